// Package kustomize applies config/ the way a user does, with the real kubectl (kustomize built
// in) onto the real kube-apiserver.
package kustomize

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tokenops/token-operator/internal/testenv"
)

func TestApplyDefaultAndEngine(t *testing.T) {
	_, kcPath := testenv.Start(t, false) // the CRDs come from config/default
	kubectl := func(args ...string) string { return testenv.RunKubectl(t, kcPath, "", args...) }

	kubectl("apply", "-k", "config/default")
	kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	for _, o := range []string{"namespace/token-operator", "clusterrole/token-operator-manager", "clusterrolebinding/token-operator-manager",
		"crd/databasetokens.tokens.tokenops.dev", "crd/clustertokenengines.tokens.tokenops.dev"} {
		kubectl("get", o)
	}
	for _, o := range []string{"deployment/token-operator", "serviceaccount/token-operator", "role/token-operator-manager",
		"rolebinding/token-operator-manager", "service/token-operator-metrics"} {
		kubectl("get", "-n", "token-operator", o)
	}
	// The manager's service account may do what the manager needs, and no more than asked.
	sa := "--as=system:serviceaccount:token-operator:token-operator"
	for _, check := range [][]string{
		{"create", "leases.coordination.k8s.io", "-n", "token-operator"},
		{"patch", "databasetokens.tokens.tokenops.dev", "-n", "monitoring"},
		{"update", "systemtokens.tokens.tokenops.dev/finalizers", "-n", "monitoring"},
		{"create", "secrets", "-n", "monitoring"},
	} {
		if out := strings.TrimSpace(kubectl(append([]string{"auth", "can-i", sa}, check...)...)); out != "yes" {
			t.Errorf("service account cannot %v: %s", check, out)
		}
	}
	// "no" exits 1, so this one runs kubectl directly.
	kubectlBin, err := testenv.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectlBin, "--kubeconfig", kcPath, "auth", "can-i", sa, "create", "leases.coordination.k8s.io", "-n", "kube-system")
	if out, _ := cmd.Output(); strings.TrimSpace(string(out)) != "no" {
		t.Errorf("service account may create leases outside its namespace: %s", out)
	}

	// config/engine needs the admin token Secret first (see its kustomization.yaml).
	tok := "apiv3_" + strings.Repeat("A", 86)
	kubectl("create", "secret", "generic", "token-engine-admin", "-n", "token-operator",
		"--from-literal=token="+tok, `--from-literal=admin-token.json={"token":"`+tok+`"}`)
	kubectl("apply", "-k", "config/engine")
	kubectl("get", "-n", "token-operator", "statefulset/token-engine", "service/token-engine")
	out := kubectl("get", "clustertokenengine", "default", "-o", "jsonpath={.metadata.annotations} {.spec.influxdb3.url}")
	if !strings.Contains(out, `"tokens.tokenops.dev/default":"true"`) || !strings.Contains(out, "http://token-engine.token-operator.svc:8181") {
		t.Errorf("ClusterTokenEngine default: %s", out)
	}
}

// workload is the part of a Deployment or StatefulSet whose container args are checked.
type workload struct {
	Kind string `json:"kind"`
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name  string   `json:"name"`
					Image string   `json:"image"`
					Args  []string `json:"args"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// TestContainerArgsParse runs the real binary with the args config/ gives each container, so a
// renamed or mistyped flag fails here rather than in a crash-looping pod.
func TestContainerArgsParse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	kubectlBin, err := testenv.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := testenv.BuildOperator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, dir := range []string{"config/default", "config/engine"} {
		cmd := exec.Command(kubectlBin, "kustomize", dir)
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", dir, err)
		}
		for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(out), -1) {
			var w workload
			if err := yaml.Unmarshal([]byte(doc), &w); err != nil {
				t.Fatal(err)
			}
			if w.Kind != "Deployment" && w.Kind != "StatefulSet" {
				continue
			}
			for _, c := range w.Spec.Template.Spec.Containers {
				if c.Image != "ghcr.io/tokenops/token-operator:0.1.0" {
					t.Errorf("%s %s: image %s, want the kustomization's pinned image", dir, c.Name, c.Image)
				}
				// --help after the args: cobra parses (and rejects) every flag first, then prints help.
				if o, err := exec.Command(bin, append(c.Args, "--help")...).CombinedOutput(); err != nil {
					t.Errorf("%s container %s: token-operator %s: %v\n%s", dir, c.Name, strings.Join(c.Args, " "), err, o)
				}
				seen++
			}
		}
	}
	if seen != 2 {
		t.Errorf("checked %d containers, want the manager and the engine", seen)
	}
}
