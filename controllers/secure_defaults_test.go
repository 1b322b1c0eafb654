package controllers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// Issue 16 item 1: a ClusterTokenEngine without allowedNamespaces serves no namespace. The token
// says so, with what to set, and nothing is minted.
func TestSecureDefaultsEngineWithoutAllowedNamespacesServesNobody(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	cte := e.clusterEngine(t, "closed", inst.URL, func(c *tokensv1.ClusterTokenEngine) { c.Spec.AllowedNamespaces = nil })
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	ref := &tokensv1.EngineReference{Name: cte.Name}

	tok := policyToken(t, e.ns, "closed", ref, "1d", "telemetry")
	waitNotPermitted(t, databaseTokenKind, tok, "ClusterTokenEngine "+cte.Name+" serves no namespace", "allowedNamespaces")
	g.Expect(e.engineTokens(g, e.ns, ref, tok)).To(BeEmpty())
	g.Expect(secret(g, e.ns, "closed")).To(BeNil())

	// Naming the namespace lets the token through.
	patch := client.MergeFrom(cte.DeepCopy())
	cte.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{e.ns}}
	g.Expect(k8s.Patch(context.Background(), cte, patch)).To(Succeed())
	waitReady(t, databaseTokenKind, tok)
}

// Issue 16 item 2: a policy rule limits actions, and the wildcard needs allowAllDatabases. A
// request is permitted only if every permission is; a spec edited to ask for more keeps its live
// token.
func TestSecureDefaultsPolicyLimitsActionsAndWildcards(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	cte := e.clusterEngine(t, "readers", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.Policy = &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{{
			Name: "readers", Databases: []string{"*"}, Actions: []tokensv1.Action{tokensv1.ActionRead},
		}}}
	})
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	ref := &tokensv1.EngineReference{Name: cte.Name}
	rule := `ClusterTokenEngine ` + cte.Name + `: policy rule "readers" (the first rule matching namespace ` + e.ns + `)`

	// write on a read-only rule: refused, nothing minted.
	writer := policyToken(t, e.ns, "writer", ref, "1d", "telemetry")
	waitNotPermitted(t, databaseTokenKind, writer, rule+` does not permit action "write" (it permits actions [read])`)
	// every database, although the pattern "*" permits every named one: refused.
	all := testutil.WithPermissions(testutil.DatabaseToken("all", testutil.InNamespace(e.ns)),
		tokensv1.DatabasePermission{Databases: []tokensv1.DatabaseName{"*"}, Actions: []tokensv1.Action{tokensv1.ActionRead}})
	all.Spec.EngineRef = ref
	g.Expect(k8s.Create(ctx, all)).To(Succeed())
	waitNotPermitted(t, databaseTokenKind, all, rule+` does not permit every database (databases ["*"]): that needs allowAllDatabases: true`)
	for _, obj := range []client.Object{writer, all} {
		g.Expect(e.engineTokens(g, e.ns, ref, obj)).To(BeEmpty(), "%s was minted", obj.GetName())
	}

	// read is permitted; a later edit asking for write too is refused and the live token kept.
	reader := testutil.WithPermissions(testutil.DatabaseToken("reader", testutil.InNamespace(e.ns)),
		tokensv1.DatabasePermission{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionRead}})
	reader.Spec.EngineRef = ref
	g.Expect(k8s.Create(ctx, reader)).To(Succeed())
	live := databaseTokenKind.status(waitReady(t, databaseTokenKind, reader)).Current.TokenName
	var token string
	g.Eventually(func(g Gomega) {
		token = string(secret(g, e.ns, "reader").Data[tokensv1.TokenSecretKey])
		g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, token, "telemetry", "read")).To(Equal(http.StatusNoContent))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(reader), reader)).To(Succeed())
	patch := client.MergeFrom(reader.DeepCopy())
	reader.Spec.Permissions[0].Actions = []tokensv1.Action{tokensv1.ActionRead, tokensv1.ActionWrite}
	g.Expect(k8s.Patch(ctx, reader, patch)).To(Succeed())
	st := waitNotPermitted(t, databaseTokenKind, reader, `does not permit action "write"`, "the change is not applied", live)
	g.Expect(st.Current.TokenName).To(Equal(live))
	g.Consistently(func() int { return tokenenginetest.AuthorizeStatus(nil, inst.URL, token, "telemetry", "read") }).
		WithTimeout(20 * poll).WithPolling(poll).Should(Equal(http.StatusNoContent))
}

// Issue 16 item 3: a TokenEngine reads only Secrets labelled as engine credentials. Someone who
// may create TokenEngines but not read Secrets points one at a URL of their own and at a Secret
// of the namespace: the operator sends nothing there until the Secret carries the label.
func TestSecureDefaultsTokenEngineReadsOnlyLabelledSecrets(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const victim = "apiv3_a-secret-of-the-namespace-that-is-not-engine-credentials"
	var mu sync.Mutex
	var seen []string
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(thief.Close)
	received := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(seen) }

	e := startEngineManager(t, controllers.EngineDeps{})
	sec := e.adminSecret(t, e.ns, "app-db-password", victim, nil)
	te := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "mine"},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(thief.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "app-db-password"},
		}}},
	}
	g.Expect(k8s.Create(ctx, te)).To(Succeed())
	c := waitEngine(t, te, metav1.ConditionFalse, tokensv1.ReasonCredentialsNotFound)
	g.Expect(c.Message).To(ContainSubstring("kubectl -n " + e.ns + " label secret app-db-password " + tokensv1.EngineCredentialsLabel + "=true"))
	g.Consistently(received).WithTimeout(2 * time.Second).WithPolling(poll).Should(BeEmpty())

	// The label is the owner's consent: then, and only then, the engine is called with it.
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sec), sec)).To(Succeed())
	sec.Labels = engineCredentials
	g.Expect(k8s.Update(ctx, sec)).To(Succeed())
	g.Eventually(received).WithTimeout(timeout).WithPolling(poll).Should(ContainElement("Bearer " + victim))
}
