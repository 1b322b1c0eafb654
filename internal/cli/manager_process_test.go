package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestManagerProcess runs `token-operator manager` as a process against the real API server with
// --kubeconfig, as a user would: it becomes healthy and ready, takes the leader lease in its
// namespace, reconciles the default ClusterTokenEngine to Ready, serves a DatabaseToken that omits
// engineRef with a token the engine accepts, logs JSON without any token, and stops on SIGTERM.
func TestManagerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a control plane")
	}
	g := NewWithT(t)
	ctx := context.Background()
	// The installation: operator namespace, the engine's admin Secret there, the default engine.
	in := newInstallation(t)
	k8s, inst, cte := in.k8s, in.engine, in.cte
	m := in.startManager(t)
	probeAddr, metricsAddr := m.probeAddr, m.metricsAddr

	for _, path := range []string{"/healthz", "/readyz"} {
		g.Eventually(func() int { return httpStatus("http://" + probeAddr + path) }).
			WithTimeout(60*time.Second).WithPolling(200*time.Millisecond).Should(Equal(http.StatusOK), path)
	}
	g.Eventually(func() int { return httpStatus("http://" + metricsAddr + "/metrics") }).
		WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))

	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cte), cte)).To(Succeed())
		c := meta.FindStatusCondition(cte.Status.Conditions, tokensv1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(cte.Status.Type).To(Equal(tokensv1.EngineTypeInfluxDB3))
	}).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	// The printer columns tell the truth.
	kubectl, err := testenv.Kubectl()
	g.Expect(err).NotTo(HaveOccurred())
	out, err := exec.Command(kubectl, "--kubeconfig", in.kubeconfig, "get", "cte", "default").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	g.Expect(strings.Fields(string(out))).To(HaveExactElements("NAME", "READY", "TYPE", "URL", "AGE",
		"default", "True", "influxdb3", inst.URL, Not(BeEmpty())))

	lease := &coordinationv1.Lease{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: "token-operator.tokens.tokenops.dev"}, lease)).To(Succeed())

	// A token that omits engineRef gets the default engine, and its Secret's token works there.
	dbt := &tokensv1.DatabaseToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "telegraf-writer"},
		Spec: tokensv1.DatabaseTokenSpec{Permissions: []tokensv1.DatabasePermission{
			{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite}},
		}},
	}
	g.Expect(k8s.Create(ctx, dbt)).To(Succeed())
	sec := &corev1.Secret{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "telegraf-writer"}, sec)).To(Succeed())
		g.Expect(sec.Data).To(HaveKey(tokensv1.TokenSecretKey))
	}).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	minted := string(sec.Data[tokensv1.TokenSecretKey])
	g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, minted, "telemetry", "write")).To(Equal(http.StatusNoContent))

	// SIGTERM stops the manager cleanly.
	m.stop(t)

	// Production logs are JSON lines and hold no credential.
	logged := m.logs.String()
	g.Expect(logged).NotTo(ContainSubstring(inst.AdminToken))
	g.Expect(logged).NotTo(ContainSubstring(minted))
	for _, line := range strings.Split(strings.TrimSpace(logged), "\n") {
		g.Expect(json.Valid([]byte(line))).To(BeTrue(), "not a JSON log line: %s", line)
	}
}

func httpStatus(url string) int {
	resp, err := http.Get(url) //nolint:gosec // test URL on loopback
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
