package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// TestManagerMetrics scrapes a running `token-operator manager` process: once a DatabaseToken
// with rotation is served, /metrics shows its expiry and renewal timestamps, the token count by
// Ready, and the engine calls that minted it, passes promtool's linter, and holds no credential.
func TestManagerMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a control plane")
	}
	g := NewWithT(t)
	ctx := context.Background()
	in := newInstallation(t)
	k8s, inst := in.k8s, in.engine
	m := in.startManager(t, "--leader-elect=false")
	metricsAddr := m.metricsAddr
	g.Eventually(func() int { return httpStatus("http://" + metricsAddr + "/metrics") }).
		WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(http.StatusOK))

	dbt := &tokensv1.DatabaseToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "telegraf-writer"},
		Spec: tokensv1.DatabaseTokenSpec{
			Permissions: []tokensv1.DatabasePermission{
				{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite}},
			},
			TokenCommonSpec: tokensv1.TokenCommonSpec{
				ExpiresAfter: ptr.To(tokensv1.Duration("720h")),
				Rotation:     &tokensv1.Rotation{RenewBefore: ptr.To(tokensv1.Duration("168h"))},
			},
		},
	}
	g.Expect(k8s.Create(ctx, dbt)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dbt), dbt)).To(Succeed())
		c := meta.FindStatusCondition(dbt.Status.Conditions, tokensv1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(dbt.Status.Current).NotTo(BeNil())
		g.Expect(dbt.Status.Current.ExpiresAt).NotTo(BeNil())
		g.Expect(dbt.Status.Current.RenewAt).NotTo(BeNil())
	}).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	ready := meta.FindStatusCondition(dbt.Status.Conditions, tokensv1.ConditionReady)
	sec := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: appNS, Name: dbt.Name}, sec)).To(Succeed())

	tokenLabels := `{kind="DatabaseToken",name="telegraf-writer",namespace="monitoring"}`
	engineLabels := `engine="default",engine_kind="ClusterTokenEngine",engine_type="influxdb3"`
	want := []string{
		"token_operator_token_expiry_timestamp_seconds" + tokenLabels + " " + promFloat(dbt.Status.Current.ExpiresAt.Unix()),
		"token_operator_token_renewal_timestamp_seconds" + tokenLabels + " " + promFloat(dbt.Status.Current.RenewAt.Unix()),
		fmt.Sprintf(`token_operator_tokens{kind="DatabaseToken",ready="True",reason=%q} 1`, ready.Reason),
		"token_operator_tokens_minted_total{" + engineLabels + "} 1",
		"token_operator_engine_requests_total{" + engineLabels + `,operation="mint",outcome="success"} 1`,
		"token_operator_engine_request_duration_seconds_count{" + engineLabels + `,operation="mint"} 1`,
		"token_operator_engine_requests_total{" + engineLabels + `,operation="check",outcome="success"}`,
		"token_operator_tokens_revoked_total{" + engineLabels + "} 0",
	}
	var body string
	g.Eventually(func(g Gomega) {
		body = scrape(g, "http://"+metricsAddr+"/metrics")
		for _, line := range want {
			g.Expect(body).To(ContainSubstring(line))
		}
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	// promtool's linter finds nothing in the whole endpoint, controller-runtime's metrics included.
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(problems).To(BeEmpty())

	// No credential and no fingerprint in any label.
	g.Expect(body).NotTo(ContainSubstring(string(sec.Data[tokensv1.TokenSecretKey])))
	g.Expect(body).NotTo(ContainSubstring(inst.AdminToken))
	g.Expect(body).NotTo(ContainSubstring(dbt.Status.Current.Fingerprint))
	g.Expect(body).NotTo(ContainSubstring(dbt.Status.Current.TokenName))

	m.stop(t)
}

// promFloat formats a Unix time as the text exposition format writes a float sample.
func promFloat(unix int64) string { return strconv.FormatFloat(float64(unix), 'g', -1, 64) }

func scrape(g Gomega, url string) string {
	resp, err := http.Get(url) //nolint:gosec // test URL on loopback
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var b bytes.Buffer
	_, err = io.Copy(&b, resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return b.String()
}
