package controllers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb1"
	"github.com/tokenops/token-operator/internal/engine/influxdb1/influxdb1test"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// Fast sweeps for the tests: the grace rules themselves are table-tested in internal/orphans.
var sweepDeps = controllers.EngineDeps{OrphanSweepInterval: 200 * time.Millisecond, OrphanGrace: 2 * time.Second}

// engineEvents returns the events regarding an engine resource (a ClusterTokenEngine's are in
// namespace "default").
func engineEvents(g Gomega, obj tokensv1.GenericEngine, reason string) []eventsv1.Event {
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	var list eventsv1.EventList
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.Kind == string(obj.EngineKind()) && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// orphanMetric reads one of the sweep's series for an engine from the manager's registry; ok is
// false when the series does not exist.
func orphanMetric(g Gomega, family, kind, name string) (value float64, ok bool) {
	families, err := crmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["engine"] != name || labels["engine_kind"] != kind {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// exists reports whether the engine knows a token of that name.
func exists(g Gomega, eng engine.Engine, name string) bool {
	_, err := eng.Lookup(context.Background(), name)
	if engine.IsNotFound(err) {
		return false
	}
	g.Expect(err).NotTo(HaveOccurred())
	return true
}

// setOrphanSweep patches an engine's spec.orphanSweep (a merge patch: the engine's own status
// writes cannot make it conflict).
func setOrphanSweep(g Gomega, obj tokensv1.GenericEngine, mode tokensv1.OrphanSweep) {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"orphanSweep":"`+string(mode)+`"}}`))
	g.Expect(k8s.Patch(context.Background(), obj, patch)).To(Succeed())
}

// mintRaw mints a token straight in the engine, as a crashed or forgetful operator would have left it.
func mintRaw(t *testing.T, eng engine.Engine, name string) {
	t.Helper()
	m, err := eng.Mint(context.Background(), engine.MintRequest{Name: name, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry"}, Actions: []engine.Action{engine.ActionRead}},
	}})
	if err != nil {
		t.Fatalf("minting %s: %v", name, err)
	}
	minted.Add(m.Token.Reveal())
	for _, v := range m.SecretData {
		if v.Reveal() != m.Name {
			minted.Add(v.Reveal())
		}
	}
}

// The orphan sweep against the real token engine, through the real kube-apiserver (issue 15
// item 3): with the default Report, tokens with our prefix that no resource accounts for (one of
// a resource that never existed, one of a live resource that its status does not name) are
// counted and named in a Warning event, and nothing is revoked; tokens without our prefix, of a
// namespace the engine does not serve, held by a Secret that deletionPolicy Retain handed over,
// or accounted for are never touched. With Revoke, exactly the orphans are revoked, and a fresh
// unaccounted token survives its grace.
func TestOrphanSweepRealEngine(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	admin := adminClient(t, inst)
	e := startEngineManagerWith(t, sweepDeps, true)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	cte := e.clusterEngine(t, "sweep", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{e.ns}}
	})
	g.Expect(cte.Spec.OrphanSweep).To(Equal(tokensv1.OrphanSweepReport), "the default")
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)

	k := databaseTokenKind
	live := k.new("writer", e.ns, testutil.WithEngine(tokensv1.ClusterTokenEngineKind, cte.Name))
	g.Expect(k8s.Create(ctx, live)).To(Succeed())
	live = waitReady(t, k, live)
	current := k.status(live).Current.TokenName

	gone := "k8s." + e.ns + ".gone.0a1b2c3d.r1"                     // its resource never existed
	stray := lifecycle.TokenName(e.ns, "writer", live.GetUID(), 99) // the live resource's, not in its status
	kept := "k8s." + e.ns + ".kept.0a1b2c3d.r1"                     // a Secret Retain handed over holds it
	unserved := "k8s." + e.other + ".gone.0a1b2c3d.r1"              // a namespace the engine does not serve
	foreign := "telegraf-by-hand"                                   // not our prefix
	lookalike := "k8s." + e.ns + ".looks.like.ours"                 // our prefix, not our form
	for _, n := range []string{gone, stray, kept, unserved, foreign, lookalike} {
		mintRaw(t, admin, n)
	}
	g.Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "kept",
		Annotations: map[string]string{tokensv1.TokenNameAnnotation: kept}}})).To(Succeed())

	// Report: counted and named once the grace passed, nothing revoked.
	g.Eventually(func(g Gomega) {
		evs := engineEvents(g, cte, tokensv1.ReasonOrphanTokens)
		g.Expect(evs).NotTo(BeEmpty())
		msg := evs[len(evs)-1].Note
		g.Expect(msg).To(HavePrefix("2 engine tokens carry this operator's name prefix"))
		g.Expect(msg).To(ContainSubstring(gone))
		g.Expect(msg).To(ContainSubstring(stray))
		g.Expect(msg).To(ContainSubstring("spec.orphanSweep: Revoke"))
		g.Expect(evs[len(evs)-1].Type).To(Equal(corev1.EventTypeWarning))
		v, ok := orphanMetric(g, "token_operator_engine_orphan_tokens", "ClusterTokenEngine", cte.Name)
		g.Expect(ok).To(BeTrue())
		g.Expect(v).To(Equal(2.0))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	for _, n := range []string{gone, stray, kept, unserved, foreign, lookalike, current} {
		g.Expect(exists(g, admin, n)).To(BeTrue(), "Report revokes nothing: %s", n)
	}
	// An unchanged set is not reported again.
	reported := len(engineEvents(g, cte, tokensv1.ReasonOrphanTokens))
	time.Sleep(5 * sweepDeps.OrphanSweepInterval)
	g.Expect(engineEvents(g, cte, tokensv1.ReasonOrphanTokens)).To(HaveLen(reported))

	// Revoke: exactly the orphans go.
	setOrphanSweep(g, cte, tokensv1.OrphanSweepRevoke)
	g.Eventually(func(g Gomega) {
		g.Expect(exists(g, admin, gone)).To(BeFalse())
		g.Expect(exists(g, admin, stray)).To(BeFalse())
		evs := engineEvents(g, cte, tokensv1.ReasonOrphanTokensRevoked)
		g.Expect(evs).To(HaveLen(1))
		g.Expect(evs[0].Note).To(ContainSubstring("Revoked 2 orphan engine tokens"))
		v, _ := orphanMetric(g, "token_operator_engine_orphan_tokens_revoked_total", "ClusterTokenEngine", cte.Name)
		g.Expect(v).To(Equal(2.0))
		v, _ = orphanMetric(g, "token_operator_engine_orphan_tokens", "ClusterTokenEngine", cte.Name)
		g.Expect(v).To(Equal(0.0))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	for _, n := range []string{kept, unserved, foreign, lookalike, current} {
		g.Expect(exists(g, admin, n)).To(BeTrue(), "never touched: %s", n)
	}

	// A fresh unaccounted token (what a mint in flight looks like to a cache that is behind)
	// survives its grace, then goes.
	young := "k8s." + e.ns + ".young.0a1b2c3d.r1"
	mintRaw(t, admin, young)
	created := time.Now()
	g.Consistently(func(g Gomega) {
		g.Expect(exists(g, admin, young)).To(BeTrue())
	}).WithTimeout(sweepDeps.OrphanGrace / 2).WithPolling(poll).Should(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(exists(g, admin, young)).To(BeFalse()) }).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(time.Since(created)).To(BeNumerically(">=", sweepDeps.OrphanGrace))

	// The live token was never at risk: still Ready, and its Secret's token still authorizes.
	live = waitReady(t, k, live)
	g.Expect(k.status(live).Current.TokenName).To(Equal(current))
	tok := string(secret(g, e.ns, "writer").Data[tokensv1.TokenSecretKey])
	g.Expect(engineStatus(t, inst.URL+"/api/v3/authorize?db=telemetry&action=write", tok)).To(Equal(http.StatusNoContent))
	assertNoPlaintext(t, e.ns)
}

// A TokenEngine sweeps only its own namespace, even when it shares the server with other
// namespaces' tokens; Off drops its gauge and reports nothing.
func TestOrphanSweepTokenEngineOwnNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	admin := adminClient(t, inst)
	e := startEngineManagerWith(t, sweepDeps, false)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, engineCredentials)
	te := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "own"},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(inst.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"},
		}}, OrphanSweep: tokensv1.OrphanSweepRevoke},
	}
	g.Expect(k8s.Create(ctx, te)).To(Succeed())
	waitEngine(t, te, metav1.ConditionTrue, tokensv1.ReasonReachable)
	metricName := e.ns + "/own"

	mine := "k8s." + e.ns + ".gone.0a1b2c3d.r1"
	theirs := "k8s." + e.other + ".gone.0a1b2c3d.r1"
	mintRaw(t, admin, mine)
	mintRaw(t, admin, theirs)
	g.Eventually(func(g Gomega) {
		g.Expect(exists(g, admin, mine)).To(BeFalse())
		g.Expect(engineEvents(g, te, tokensv1.ReasonOrphanTokensRevoked)).To(HaveLen(1))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(exists(g, admin, theirs)).To(BeTrue(), "another namespace's token is not a TokenEngine's to judge")

	setOrphanSweep(g, te, tokensv1.OrphanSweepOff)
	g.Eventually(func(g Gomega) {
		_, ok := orphanMetric(g, "token_operator_engine_orphan_tokens", "TokenEngine", metricName)
		g.Expect(ok).To(BeFalse())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	again := "k8s." + e.ns + ".again.0a1b2c3d.r1"
	mintRaw(t, admin, again)
	g.Consistently(func(g Gomega) {
		g.Expect(exists(g, admin, again)).To(BeTrue())
	}).WithTimeout(2 * sweepDeps.OrphanGrace).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(engineEvents(g, te, tokensv1.ReasonOrphanTokens)).To(BeEmpty())
}

// On InfluxDB 1.x a token is a user: the sweep drops an orphan user of our form, and never a
// user without our prefix, nor an admin user, whatever its name (a real influxd).
func TestOrphanSweepInfluxDB1Users(t *testing.T) {
	g := NewWithT(t)
	srv := influxdb1test.Start(t)
	admin, err := influxdb1.New(influxdb1.Config{Config: httpapi.Config{URL: srv.URL}, Username: srv.AdminUser, Password: engine.Plaintext(srv.AdminPassword)})
	g.Expect(err).NotTo(HaveOccurred())
	e := startEngineManagerWith(t, sweepDeps, false)
	v1Secret(t, e.ns, "v1", srv.AdminUser, srv.AdminPassword)
	minted.Add(srv.AdminPassword)
	srv.CreateDatabase(t, "telemetry")

	orphan := "k8s." + e.ns + ".gone.0a1b2c3d.r1"
	foreign := "grafana"
	adminLike := "k8s." + e.ns + ".admin.0a1b2c3d.r1" // an admin user: never a token
	mintRaw(t, admin, orphan)
	mintRaw(t, admin, foreign)
	q := url.Values{"q": {"CREATE USER " + influxdb1.QuoteIdent(adminLike) + " WITH PASSWORD 'x-Secret-1' WITH ALL PRIVILEGES"}}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", strings.NewReader(q.Encode()))
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(srv.AdminUser, srv.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))

	cte := e.clusterEngine(t, "v1", "http://unused", func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.InfluxDB3 = nil
		c.Spec.InfluxDB1 = &tokensv1.InfluxDB1Engine{URL: tokensv1.EngineURL(srv.URL),
			CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: "v1", UsernameKey: "username", PasswordKey: "password"}}
		c.Spec.OrphanSweep = tokensv1.OrphanSweepRevoke
	})
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	g.Eventually(func(g Gomega) {
		g.Expect(exists(g, admin, orphan)).To(BeFalse())
		evs := engineEvents(g, cte, tokensv1.ReasonOrphanTokensRevoked)
		g.Expect(evs).To(HaveLen(1))
		g.Expect(evs[0].Note).To(ContainSubstring("Revoked 1 orphan"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(exists(g, admin, foreign)).To(BeTrue())
	// The adapter hides admin users from Lookup too; ask the server.
	q = url.Values{"q": {"SHOW USERS"}}
	req, err = http.NewRequest(http.MethodGet, srv.URL+"/query?"+q.Encode(), nil)
	g.Expect(err).NotTo(HaveOccurred())
	req.SetBasicAuth(srv.AdminUser, srv.AdminPassword)
	resp, err = http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	_ = resp.Body.Close()
	g.Expect(body.String()).To(ContainSubstring(adminLike))
}
