package argocd

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestHealthOfLiveObjects runs the scripts over objects the real operator wrote: the
// `token-operator manager` binary against the real API server and a real token engine, objects
// applied and read back with kubectl, as Argo CD reads them.
func TestHealthOfLiveObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a control plane")
	}
	_, kcPath := testenv.Start(t, true)
	dir := t.TempDir()
	kubectl := func(stdin string, args ...string) []byte {
		return []byte(testenv.RunKubectl(t, kcPath, stdin, args...))
	}
	bin, err := testenv.BuildOperator(dir)
	if err != nil {
		t.Fatal(err)
	}
	inst := tokenenginetest.Start(t)

	// Engine "default" allows only namespace monitoring; "down" points at a closed port.
	kubectl(`apiVersion: v1
kind: Namespace
metadata: {name: token-operator}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Namespace
metadata: {name: denied}
---
apiVersion: v1
kind: Secret
metadata: {name: token-engine-admin, namespace: token-operator}
stringData: {token: `+inst.AdminToken+`}
---
apiVersion: v1
kind: Secret
metadata: {name: someone-elses, namespace: monitoring}
stringData: {token: not-ours}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: ClusterTokenEngine
metadata: {name: default, annotations: {tokens.tokenops.dev/default: "true"}}
spec:
  influxdb3: {url: "`+inst.URL+`", adminTokenSecretRef: {name: token-engine-admin}}
  allowedNamespaces: {matchNames: [monitoring]}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: ClusterTokenEngine
metadata: {name: down}
spec:
  influxdb3: {url: "http://`+testenv.FreeAddr(t)+`", adminTokenSecretRef: {name: token-engine-admin}}
`, "apply", "-f", "-")

	testenv.StartLogged(t, "manager", exec.Command(bin, "manager", "--kubeconfig", kcPath, "--namespace", "token-operator",
		"--health-probe-bind-address", testenv.FreeAddr(t), "--metrics-bind-address", "0", "--leader-elect=false",
		"--engine-retry-interval", "1s"))

	kubectl(`apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: live, namespace: monitoring}
spec:
  permissions: [{databases: [telemetry], actions: [write]}]
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: SystemToken
metadata: {name: live-system, namespace: monitoring}
spec:
  resources: [metrics]
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: short, namespace: monitoring}
spec:
  permissions: [{databases: [telemetry], actions: [read]}]
  expiresAfter: 3s
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: conflict, namespace: monitoring}
spec:
  permissions: [{databases: [telemetry], actions: [read]}]
  secret: {name: someone-elses}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: no-engine, namespace: monitoring}
spec:
  engineRef: {kind: ClusterTokenEngine, name: missing}
  permissions: [{databases: [telemetry], actions: [read]}]
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: outsider, namespace: denied}
spec:
  permissions: [{databases: [telemetry], actions: [read]}]
`, "apply", "-f", "-")

	cases := []struct {
		kind, namespace, name string
		want, wantInMsg       string
	}{
		{"ClusterTokenEngine", "", "default", "Healthy", "accepted the credentials"},
		{"ClusterTokenEngine", "", "down", "Degraded", "Unreachable: "},
		{"DatabaseToken", "monitoring", "live", "Healthy", `Secret "live" holds token`},
		{"SystemToken", "monitoring", "live-system", "Healthy", `Secret "live-system" holds token`},
		{"DatabaseToken", "monitoring", "short", "Degraded", "Expired: "},
		{"DatabaseToken", "monitoring", "conflict", "Degraded", "SecretExists: "},
		{"DatabaseToken", "monitoring", "no-engine", "Progressing", "EngineNotFound: "},
		{"DatabaseToken", "denied", "outsider", "Degraded", "NotPermitted: "},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			script := readScript(t, tc.kind)
			args := []string{"get", strings.ToLower(tc.kind) + ".tokens.tokenops.dev", tc.name, "-o", "json"}
			if tc.namespace != "" {
				args = append(args, "-n", tc.namespace)
			}
			var got health
			deadline := time.Now().Add(60 * time.Second)
			for {
				var obj map[string]any
				if err := json.Unmarshal(kubectl("", args...), &obj); err != nil {
					t.Fatal(err)
				}
				if got, err = runHealth(script, obj); err != nil {
					t.Fatal(err)
				}
				if got.Status == tc.want && strings.Contains(got.Message, tc.wantInMsg) {
					return
				}
				if time.Now().After(deadline) {
					status, _ := json.MarshalIndent(obj["status"], "", "  ")
					t.Fatalf("got %s %q, want %s with %q; status:\n%s", got.Status, got.Message, tc.want, tc.wantInMsg, status)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
}
