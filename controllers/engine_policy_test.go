package controllers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func policyDuration(s string) *tokensv1.Duration { d := tokensv1.Duration(s); return &d }

// policyToken creates a DatabaseToken named name in ns asking for dbs (write) from the engine ref.
func policyToken(t *testing.T, ns, name string, ref *tokensv1.EngineReference, expiresAfter string, dbs ...tokensv1.DatabaseName) *tokensv1.DatabaseToken {
	t.Helper()
	opts := []testutil.Option{testutil.InNamespace(ns)}
	if expiresAfter != "" {
		opts = append(opts, testutil.ExpiresAfter(expiresAfter))
	}
	dbt := testutil.WithPermissions(testutil.DatabaseToken(name, opts...),
		tokensv1.DatabasePermission{Databases: dbs, Actions: []tokensv1.Action{tokensv1.ActionWrite}})
	dbt.Spec.EngineRef = ref
	if err := k8s.Create(context.Background(), dbt); err != nil {
		t.Fatal(err)
	}
	return dbt
}

// waitNotPermitted waits until obj is Ready=False NotPermitted with a message holding every want.
func waitNotPermitted(t *testing.T, k tokenKind, obj client.Object, wants ...string) *tokensv1.TokenStatus {
	t.Helper()
	var st *tokensv1.TokenStatus
	NewWithT(t).Eventually(func(g Gomega) {
		st = k.status(fresh(g, k, obj))
		c := cond(st, tokensv1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "Ready: %+v", c)
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonNotPermitted), c.Message)
		for _, w := range wants {
			g.Expect(c.Message).To(ContainSubstring(w))
		}
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return st
}

// engineTokens lists the engine tokens of one token resource, through the resolver.
func (e *engineEnv) engineTokens(g Gomega, ns string, ref *tokensv1.EngineReference, obj client.Object) []string {
	r, err := e.resolver.ResolveForRevocation(context.Background(), ns, ref)
	g.Expect(err).NotTo(HaveOccurred())
	live, err := r.Engine.List(context.Background(), "k8s."+obj.GetNamespace()+"."+obj.GetName()+".")
	g.Expect(err).NotTo(HaveOccurred())
	names := make([]string, len(live))
	for i, l := range live {
		names[i] = l.Name
	}
	return names
}

// warnings returns "reason: note" of the Warning events about the named object.
func warnings(g Gomega, ns, name string) []string {
	return eventsOf(g, ns, name, corev1.EventTypeWarning)
}

// waitEvent waits for an event of type typ ("": any) about the named object whose "reason: note"
// contains substr. The recorder writes events in the background, so the status write of the
// same pass can be seen before its event: asserting once after waiting on status is a race.
func waitEvent(g Gomega, ns, name, typ, substr string) {
	g.Eventually(func(g Gomega) {
		g.Expect(eventsOf(g, ns, name, typ)).To(ContainElement(ContainSubstring(substr)))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// eventsOf returns "reason: note" of the events of type typ ("": any) about the named object.
func eventsOf(g Gomega, ns, name, typ string) []string {
	var list eventsv1.EventList
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && (typ == "" || ev.Type == typ) {
			out = append(out, ev.Reason+": "+ev.Note)
		}
	}
	return out
}

// A ClusterTokenEngine policy with the real resolver, the real engine and the token reconcilers:
// what a rule permits is minted; a database, a system resource or an expiry the first matching
// rule does not permit is NotPermitted with the rule named and nothing minted; a policy change
// revokes a live token that is no longer permitted, and permitting it again mints a new one.
func TestPolicyClusterTokenEngine(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	rules := func(dbs ...string) *tokensv1.EnginePolicy {
		return &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{
			{Name: "elsewhere", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{e.other}}, Databases: []string{"*"}},
			{Name: "writers", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{e.ns}}, Databases: dbs, MaxExpiresAfter: policyDuration("30d")},
		}}
	}
	cte := e.clusterEngine(t, "main", inst.URL, func(c *tokensv1.ClusterTokenEngine) { c.Spec.Policy = rules("telemetry", "team-*") })
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	ref := &tokensv1.EngineReference{Name: cte.Name}
	rule := `ClusterTokenEngine ` + cte.Name + `: policy rule "writers" (the first rule matching namespace ` + e.ns + `)`

	// Allowed: a database and an expiry the rule permits.
	allowed := policyToken(t, e.ns, "allowed", ref, "1d", "telemetry")
	live := waitReady(t, databaseTokenKind, allowed)
	liveName := databaseTokenKind.status(live).Current.TokenName
	var token string
	g.Eventually(func(g Gomega) {
		sec := secret(g, e.ns, "allowed")
		g.Expect(sec).NotTo(BeNil())
		token = string(sec.Data[tokensv1.TokenSecretKey])
		g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, token, "telemetry", "write")).To(Equal(http.StatusNoContent))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	// Denied: a database outside the patterns, an expiry above the max, no expiry under a max,
	// a system resource the rule does not list. Nothing is minted, no Secret is written.
	denied := policyToken(t, e.ns, "denied", ref, "1d", "billing")
	tooLong := policyToken(t, e.ns, "too-long", ref, "60d", "team-a")
	forever := policyToken(t, e.ns, "forever", ref, "", "team-a")
	system := testutil.SystemToken("metrics", []tokensv1.SystemResource{"metrics"}, testutil.InNamespace(e.ns), testutil.ExpiresAfter("1d"))
	system.Spec.EngineRef = ref
	g.Expect(k8s.Create(ctx, system)).To(Succeed())
	waitNotPermitted(t, databaseTokenKind, denied, rule+` does not permit database "billing" (it permits databases [telemetry, team-*])`)
	waitNotPermitted(t, databaseTokenKind, tooLong, rule+" permits at most expiresAfter 30d and the token asks for 60d")
	waitNotPermitted(t, databaseTokenKind, forever, rule+" permits at most expiresAfter 30d and the token never expires")
	waitNotPermitted(t, systemTokenKind, system, rule+` does not permit system resource "metrics" (the rule has no systemResources)`)
	for _, obj := range []client.Object{denied, tooLong, forever, system} {
		g.Expect(e.engineTokens(g, e.ns, ref, obj)).To(BeEmpty(), "%s was minted", obj.GetName())
		g.Expect(secret(g, e.ns, obj.GetName())).To(BeNil(), "%s has a Secret", obj.GetName())
	}

	// The policy changes: telemetry is no longer permitted. The live token is revoked in the
	// engine, taken out of its Secret, and the token says why, with a Warning event.
	patch := client.MergeFrom(cte.DeepCopy())
	cte.Spec.Policy = rules("team-*")
	g.Expect(k8s.Patch(ctx, cte, patch)).To(Succeed())
	g.Eventually(func(g Gomega) []string { return warnings(g, e.ns, "allowed") }).WithTimeout(timeout).WithPolling(poll).
		Should(ContainElement(And(HavePrefix(tokensv1.ReasonNotPermitted+": "+rule+` does not permit database "telemetry"`),
			ContainSubstring("Revoked "+liveName), ContainSubstring(`Secret "allowed" no longer holds a token`))))
	waitNotPermitted(t, databaseTokenKind, allowed, rule+` does not permit database "telemetry"`)
	// The event is sent before the pass's status write lands (and an earlier pass whose
	// revocation failed says NotPermitted too): wait for the status that forgets the tokens.
	g.Eventually(func(g Gomega) {
		st := databaseTokenKind.status(fresh(g, databaseTokenKind, allowed))
		g.Expect(st.Current).To(BeNil())
		g.Expect(st.Pending).To(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, token, "telemetry", "write")).To(Equal(http.StatusUnauthorized))
	g.Expect(e.engineTokens(g, e.ns, ref, allowed)).To(BeEmpty())
	sec := secret(g, e.ns, "allowed")
	g.Expect(sec).NotTo(BeNil())
	g.Expect(sec.Data).NotTo(HaveKey(tokensv1.TokenSecretKey))

	// Permitted again: a new token is minted, as for a new resource.
	patch = client.MergeFrom(cte.DeepCopy())
	cte.Spec.Policy = rules("telemetry")
	g.Expect(k8s.Patch(ctx, cte, patch)).To(Succeed())
	again := databaseTokenKind.status(waitReady(t, databaseTokenKind, allowed))
	g.Expect(again.Current.TokenName).NotTo(Equal(liveName))
	g.Eventually(func(g Gomega) {
		sec := secret(g, e.ns, "allowed")
		g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, string(sec.Data[tokensv1.TokenSecretKey]), "telemetry", "write")).To(Equal(http.StatusNoContent))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	// allowedNamespaces is re-evaluated the same way: narrowed to exclude the namespace, the new
	// token is revoked too.
	var secondToken string
	g.Eventually(func(g Gomega) {
		secondToken = string(secret(g, e.ns, "allowed").Data[tokensv1.TokenSecretKey])
		g.Expect(secondToken).NotTo(BeEmpty())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	patch = client.MergeFrom(cte.DeepCopy())
	cte.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{e.other}}
	g.Expect(k8s.Patch(ctx, cte, patch)).To(Succeed())
	g.Eventually(func(g Gomega) []string { return warnings(g, e.ns, "allowed") }).WithTimeout(timeout).WithPolling(poll).
		Should(ContainElement(And(ContainSubstring("does not allow namespace "+e.ns), ContainSubstring("Revoked "+again.Current.TokenName))))
	waitNotPermitted(t, databaseTokenKind, allowed, "does not allow namespace "+e.ns)
	g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, secondToken, "telemetry", "write")).To(Equal(http.StatusUnauthorized))

	// Deletion is never blocked by the policy or allowedNamespaces: the tokens go at once.
	for _, obj := range []client.Object{allowed, denied, tooLong, forever, system} {
		g.Expect(k8s.Delete(ctx, obj)).To(Succeed())
		waitGone(t, obj)
	}
	assertNoAdminToken(t, inst.AdminToken, cte)
}

// A TokenEngine's policy applies to the tokens of its namespace, which are the only ones it serves.
func TestPolicyTokenEngine(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "team-admin", inst.AdminToken, engineCredentials)
	te := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "own"},
		Spec: tokensv1.TokenEngineSpec{
			EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
				URL: tokensv1.EngineURL(inst.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "team-admin"},
			}},
			Policy: &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{{Name: "apps", Databases: []string{"app-*"}, MaxExpiresAfter: policyDuration("7d")}}},
		},
	}
	g.Expect(k8s.Create(ctx, te)).To(Succeed())
	waitEngine(t, te, metav1.ConditionTrue, tokensv1.ReasonReachable)
	ref := &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}

	ok := policyToken(t, e.ns, "ok", ref, "7d", "app-orders")
	okName := databaseTokenKind.status(waitReady(t, databaseTokenKind, ok)).Current.TokenName

	// A spec edited to ask for more than the rule permits is refused, and the live token, which
	// the rule still permits, keeps working: a typo must not cost workloads their token.
	writeTo := func(db tokensv1.DatabaseName) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ok), ok)).To(Succeed())
		patch := client.MergeFrom(ok.DeepCopy())
		ok.Spec.Permissions = []tokensv1.DatabasePermission{{Databases: []tokensv1.DatabaseName{db}, Actions: []tokensv1.Action{tokensv1.ActionWrite}}}
		g.Expect(k8s.Patch(ctx, ok, patch)).To(Succeed())
	}
	writeTo("orders")
	waitNotPermitted(t, databaseTokenKind, ok, `does not permit database "orders"`, "keeps working")
	g.Expect(e.engineTokens(g, e.ns, ref, ok)).To(ConsistOf(okName))
	g.Expect(secret(g, e.ns, "ok").Data).To(HaveKey(tokensv1.TokenSecretKey))
	g.Expect(warnings(g, e.ns, "ok")).NotTo(ContainElement(ContainSubstring("Revoked")))
	writeTo("app-orders")
	g.Expect(databaseTokenKind.status(waitReady(t, databaseTokenKind, ok)).Current.TokenName).To(Equal(okName),
		"back to what the live token grants: no new mint")
	other := policyToken(t, e.ns, "other", ref, "7d", "orders")
	waitNotPermitted(t, databaseTokenKind, other,
		`TokenEngine `+e.ns+`/own: policy rule "apps" (the first rule matching namespace `+e.ns+`) does not permit database "orders"`)
	g.Expect(e.engineTokens(g, e.ns, ref, other)).To(BeEmpty())

	// An expired token stays expired across a policy change: it was revoked at its expiry, so
	// there is nothing to revoke, and being permitted again does not mint it anew.
	short := policyToken(t, e.ns, "short", ref, "2s", "app-short")
	expiredName := databaseTokenKind.status(waitReady(t, databaseTokenKind, short)).Current.TokenName
	isExpired := func(g Gomega) {
		st := databaseTokenKind.status(fresh(g, databaseTokenKind, short))
		g.Expect(cond(st, tokensv1.ConditionExpired).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(st.Current).NotTo(BeNil())
		g.Expect(st.Current.TokenName).To(Equal(expiredName))
		g.Expect(st.Revision).To(Equal(int64(1)))
	}
	g.Eventually(isExpired).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	setRules := func(dbs ...string) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(te), te)).To(Succeed())
		patch := client.MergeFrom(te.DeepCopy())
		te.Spec.Policy.Rules[0].Databases = dbs
		g.Expect(k8s.Patch(ctx, te, patch)).To(Succeed())
	}
	setRules("other-*")
	waitNotPermitted(t, databaseTokenKind, short, `does not permit database "app-short"`)
	setRules("app-*")
	waitReady(t, databaseTokenKind, ok) // the policy change was seen
	g.Consistently(isExpired).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(warnings(g, e.ns, "short")).NotTo(ContainElement(ContainSubstring("Revoked")))

	// The same engine name in another namespace is not this engine: its policy is not consulted.
	elsewhere := policyToken(t, e.other, "ok", ref, "7d", "app-orders")
	NewWithT(t).Eventually(func(g Gomega) {
		c := cond(databaseTokenKind.status(fresh(g, databaseTokenKind, elsewhere)), tokensv1.ConditionReady)
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonEngineNotFound), c.Message)
		g.Expect(strings.Contains(c.Message, "in namespace "+e.other)).To(BeTrue(), c.Message)
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}
