package controllers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// withRealEngine starts a real token engine on loopback (the server `token-operator engine`
// runs), the influxdb3 adapter pointed at it, and a manager resolving every token to it.
func withRealEngine(t *testing.T) (string, *tokenenginetest.Instance) {
	t.Helper()
	inst := tokenenginetest.Start(t)
	client := adminClient(t, inst)
	ns := newNamespace(t)
	startManager(t, ns, controllers.TokenDeps{Resolver: &engineref.Static{Resolved: engineref.Resolved{
		Engine: recording{client}, Kind: tokensv1.ClusterTokenEngineKind, Name: "default", Description: enginefactory.Description{Type: "influxdb3", WorkloadURL: inst.URL, SupportsSystemTokens: true},
	}}})
	return ns, inst
}

// status asks the engine's gateway endpoint, or path on the engine, with token.
func engineStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// docs/design.md §1 against the real engine: the Secret's token works at the authorize endpoint for
// what was asked and nothing else, and is rejected after deletion.
func TestRealEngineDatabaseTokenLifecycle(t *testing.T) {
	g := NewWithT(t)
	ns, inst := withRealEngine(t)
	k := databaseTokenKind
	obj := k.new("telegraf-writer", ns, testutil.ExpiresAfter("720h"), testutil.WithSecretName("telegraf-influx"),
		testutil.WithExtraKey("INFLUX_HOST", "{{ .EngineURL }}"))
	testutil.WithPermissions(obj.(*tokensv1.DatabaseToken), tokensv1.DatabasePermission{
		Databases: []tokensv1.DatabaseName{"telemetry", "logs"}, Actions: []tokensv1.Action{tokensv1.ActionWrite},
	})
	got := createReady(t, k, obj)
	cur := k.status(got).Current
	g.Expect(cur.ExpiresAt.Sub(cur.MintedAt.Time)).To(BeNumerically("~", 720*time.Hour, 2*time.Second))

	sec := secret(g, ns, "telegraf-influx")
	tok := string(sec.Data[tokensv1.TokenSecretKey])
	g.Expect(string(sec.Data["INFLUX_HOST"])).To(Equal(inst.URL))
	authorize := inst.URL + "/api/v3/authorize"
	g.Expect(engineStatus(t, authorize+"?db=telemetry&action=write", tok)).To(Equal(http.StatusNoContent))
	g.Expect(engineStatus(t, authorize+"?db=logs&action=write", tok)).To(Equal(http.StatusNoContent))
	g.Expect(engineStatus(t, authorize+"?db=telemetry&action=read", tok)).To(Equal(http.StatusForbidden))
	g.Expect(engineStatus(t, authorize+"?db=other&action=write", tok)).To(Equal(http.StatusForbidden))

	g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	waitGone(t, obj)
	g.Expect(engineStatus(t, authorize+"?db=telemetry&action=write", tok)).To(Equal(http.StatusUnauthorized))
	assertNoPlaintext(t, ns)
}

// A SystemToken reads the engine's /metrics; at expiry the engine rejects it and the operator
// has revoked it and emptied the Secret.
func TestRealEngineSystemTokenExpiry(t *testing.T) {
	g := NewWithT(t)
	ns, inst := withRealEngine(t)
	k := systemTokenKind
	obj := k.new("prometheus-scrape", ns, testutil.ExpiresAfter("5s"))
	got := createReady(t, k, obj)
	name := k.status(got).Current.TokenName

	tok := secretToken(g, ns, "prometheus-scrape")
	g.Expect(engineStatus(t, inst.URL+"/metrics", tok)).To(Equal(http.StatusOK))
	g.Expect(engineStatus(t, inst.URL+"/health", tok)).To(Equal(http.StatusForbidden))

	g.Eventually(func(g Gomega) {
		st := k.status(fresh(g, k, obj))
		g.Expect(cond(st, tokensv1.ConditionExpired).Status).To(Equal(metav1.ConditionTrue))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(engineStatus(t, inst.URL+"/metrics", tok)).To(Equal(http.StatusUnauthorized))
	g.Expect(secret(g, ns, "prometheus-scrape").Data).NotTo(HaveKey(tokensv1.TokenSecretKey))
	_, err := adminClient(t, inst).Lookup(context.Background(), name)
	g.Expect(engine.IsNotFound(err)).To(BeTrue(), "the expired token is revoked in the engine, not just expired: %v", err)
	assertNoPlaintext(t, ns)
}
