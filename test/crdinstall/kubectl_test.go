// Package crdinstall checks the generated CRDs the way a user meets them: applied with the real
// kubectl onto the real kube-apiserver, then listed and explained.
package crdinstall

import (
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/testenv"
)

const sample = `apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: telegraf-writer, namespace: monitoring}
spec:
  permissions:
    - databases: [telemetry, logs]
      actions: [write]
  expiresAfter: 720h
  secret: {name: telegraf-influx}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: SystemToken
metadata: {name: prometheus-scrape, namespace: monitoring}
spec:
  resources: [metrics]
  expiresAfter: 1y
  secret: {name: engine-metrics-token}
`

func TestCRDsApplyWithKubectlAndListAsTokens(t *testing.T) {
	_, kcPath := testenv.Start(t, false) // the CRDs are installed by kubectl below, not by envtest
	kubectl := func(stdin string, args ...string) string { return testenv.RunKubectl(t, kcPath, stdin, args...) }

	kubectl("", "apply", "-f", testenv.CRDPath())
	kubectl("", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/databasetokens.tokens.tokenops.dev", "crd/systemtokens.tokens.tokenops.dev",
		"crd/tokenengines.tokens.tokenops.dev", "crd/clustertokenengines.tokens.tokenops.dev")
	kubectl(sample, "apply", "-f", "-")

	out := kubectl("", "get", "tokens", "-n", "monitoring")
	for _, want := range []string{"databasetoken.tokens.tokenops.dev/telegraf-writer", "systemtoken.tokens.tokenops.dev/prometheus-scrape",
		"READY", "SECRET", "PERMISSIONS", "RESOURCES", "EXPIRES", "AGE"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get tokens: missing %q in:\n%s", want, out)
		}
	}

	// Short names resolve.
	for _, short := range []string{"dbtoken", "systoken", "cte", "te"} {
		kubectl("", "get", short, "-A")
	}

	explain := kubectl("", "explain", "databasetoken.spec.permissions")
	for _, want := range []string{"databases", "actions", "db:<names|*>:read,write", "successor"} {
		if !strings.Contains(explain, want) {
			t.Errorf("kubectl explain databasetoken.spec.permissions: missing %q in:\n%s", want, explain)
		}
	}
}
