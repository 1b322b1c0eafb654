package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// A ClusterTokenEngine pointing at a real token engine becomes Ready, shows its type and URL,
// and is not written again while nothing changes, although it is re-checked every second.
func TestEngineClusterTokenEngineBecomesReady(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	cte := e.clusterEngine(t, "real", inst.URL)

	ready := waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	g.Expect(ready.Message).To(ContainSubstring("accepted the credentials in Secret " + e.ns + "/admin"))
	reach := engineCondition(g, cte, tokensv1.ConditionEngineReachable)
	g.Expect(reach.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(cte.Status.Type).To(Equal(tokensv1.EngineTypeInfluxDB3))
	g.Expect(cte.Status.URL).To(Equal(inst.URL))
	g.Expect(cte.Status.ObservedGeneration).To(Equal(cte.Generation))
	g.Expect(cte.Status.LastCheckedAt).NotTo(BeNil())

	// Steady state: several re-checks later, not one write.
	rv := cte.ResourceVersion
	g.Consistently(func(g Gomega) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(cte), cte)).To(Succeed())
		g.Expect(cte.ResourceVersion).To(Equal(rv))
	}).WithTimeout(4 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	// A spec change is checked at once, against the new generation.
	cte.Spec.InfluxDB3.URL = "http://127.0.0.1:1"
	g.Expect(k8s.Update(context.Background(), cte)).To(Succeed())
	waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonUnreachable)
	assertNoAdminToken(t, inst.AdminToken, cte)
}

// A wrong admin token is Unauthorized; fixing the (uncached, unlabelled) Secret is seen at the
// next periodic re-check.
func TestEngineWrongAdminTokenIsUnauthorized(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	sec := e.adminSecret(t, e.ns, "admin", "apiv3_wrong-token", nil)
	cte := e.clusterEngine(t, "wrong", inst.URL)

	c := waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonUnauthorized)
	g.Expect(c.Message).To(ContainSubstring("put a valid admin token there"))
	g.Expect(engineCondition(g, cte, tokensv1.ConditionEngineReachable).Reason).To(Equal(tokensv1.ReasonUnauthorized))

	sec.Data["token"] = []byte(inst.AdminToken)
	g.Expect(k8s.Update(context.Background(), sec)).To(Succeed())
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
	assertNoAdminToken(t, inst.AdminToken, cte)
}

// A missing Secret is CredentialsNotFound (the engine is not contacted); creating it makes the
// engine Ready within the retry interval.
func TestEngineMissingSecretThenCreated(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	cte := e.clusterEngine(t, "nosecret", inst.URL)

	c := waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonCredentialsNotFound)
	g.Expect(c.Message).To(ContainSubstring("Secret " + e.ns + "/admin"))
	g.Expect(c.Message).To(ContainSubstring("kubectl -n " + e.ns + " create secret generic admin"))
	reach := engineCondition(g, cte, tokensv1.ConditionEngineReachable)
	g.Expect(reach.Status).To(Equal(metav1.ConditionUnknown))
	g.Expect(reach.Reason).To(Equal(tokensv1.ReasonNotChecked))
	g.Expect(cte.Status.Type).To(Equal(tokensv1.EngineTypeInfluxDB3))

	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
}

// An engine nobody listens for is Unreachable, on both conditions.
func TestEngineUnreachable(t *testing.T) {
	g := NewWithT(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "admin", "apiv3_whatever", nil)
	cte := e.clusterEngine(t, "down", "http://127.0.0.1:1")
	c := waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonUnreachable)
	g.Expect(c.Message).To(ContainSubstring("could not be reached"))
	g.Expect(engineCondition(g, cte, tokensv1.ConditionEngineReachable).Status).To(Equal(metav1.ConditionFalse))
}

// A bad CA bundle is InvalidConfig.
func TestEngineBadCABundle(t *testing.T) {
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "admin", "apiv3_whatever", nil)
	cte := e.clusterEngine(t, "badca", "https://127.0.0.1:1", func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.InfluxDB3.TLS = &tokensv1.TLSConfig{CABundle: "not PEM"}
	})
	waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonInvalidConfig)
}

// A credentials Secret that carries our managed-by label is in the manager's cache, so its change
// triggers a check at once, long before the periodic one.
func TestEngineLabelledSecretChangeIsSeenAtOnce(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{CheckInterval: time.Hour, RetryInterval: time.Hour})
	sec := e.adminSecret(t, e.ns, "admin", "apiv3_wrong-token", map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue})
	cte := e.clusterEngine(t, "watched", inst.URL)
	waitEngine(t, cte, metav1.ConditionFalse, tokensv1.ReasonUnauthorized)

	sec.Data["token"] = []byte(inst.AdminToken)
	g.Expect(k8s.Update(context.Background(), sec)).To(Succeed())
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)
}

// The same for a TokenEngine: the Secret index is per kind, and a TokenEngine's is in its namespace.
func TestEngineTokenEngineLabelledSecretChangeIsSeenAtOnce(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{CheckInterval: time.Hour, RetryInterval: time.Hour})
	sec := e.adminSecret(t, e.ns, "admin", "apiv3_wrong-token", map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue, tokensv1.EngineCredentialsLabel: "true"})
	te := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "watched"},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(inst.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"},
		}}},
	}
	g.Expect(k8s.Create(context.Background(), te)).To(Succeed())
	waitEngine(t, te, metav1.ConditionFalse, tokensv1.ReasonUnauthorized)

	sec.Data["token"] = []byte(inst.AdminToken)
	g.Expect(k8s.Update(context.Background(), sec)).To(Succeed())
	waitEngine(t, te, metav1.ConditionTrue, tokensv1.ReasonReachable)
}

// A TokenEngine reads its Secret from its own namespace, emits one event per transition, and
// serves tokens of its namespace only.
func TestEngineTokenEngineServesItsNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "team-admin", inst.AdminToken, engineCredentials)
	te := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "own"},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(inst.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "team-admin"},
		}}},
	}
	g.Expect(k8s.Create(ctx, te)).To(Succeed())
	waitEngine(t, te, metav1.ConditionTrue, tokensv1.ReasonReachable)

	// waitEngine read the API server; the resolver reads the manager's cache, which may be behind.
	var r *engineref.Resolved
	g.Eventually(func(g Gomega) {
		var err error
		r, err = e.resolver.Resolve(ctx, e.ns, &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}, engineref.Request{})
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(r.Name).To(Equal("own"))
	g.Expect(r.URL).To(Equal(inst.URL))
	g.Expect(r.Engine.Check(ctx)).To(Succeed())
	// The same client is reused while nothing changes.
	r2, err := e.resolver.Resolve(ctx, e.ns, &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}, engineref.Request{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r2.Engine).To(BeIdenticalTo(r.Engine))

	_, err = e.resolver.Resolve(ctx, e.other, &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}, engineref.Request{})
	g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonEngineNotFound), "%v", err)

	// One event for the one transition, although the engine was checked many times.
	time.Sleep(2 * time.Second)
	g.Eventually(func(g Gomega) {
		var events eventsv1.EventList
		g.Expect(k8s.List(ctx, &events, client.InNamespace(e.ns))).To(Succeed())
		var reasons []string
		for _, ev := range events.Items {
			if ev.Regarding.Kind == "TokenEngine" && ev.Regarding.Name == "own" {
				reasons = append(reasons, ev.Reason)
			}
		}
		g.Expect(reasons).To(Equal([]string{tokensv1.ReasonReachable}))
	}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	assertNoAdminToken(t, inst.AdminToken, te)
}

// The resolver against live engines: the default annotation, allowedNamespaces globs and label
// selectors, and readiness.
func TestResolverDefaultsAndAllowedNamespaces(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)

	_, err := e.resolver.Resolve(ctx, e.ns, nil, engineref.Request{})
	g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonEngineNotFound))
	g.Expect(err.Error()).To(ContainSubstring("kubectl annotate clustertokenengine NAME tokens.tokenops.dev/default=true"))

	dflt := e.clusterEngine(t, "dflt", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Annotations = map[string]string{tokensv1.DefaultEngineAnnotation: "true"}
		c.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{e.ns, "team-*"}}
	})
	labelled := newLabelledNamespace(t, map[string]string{"tokens.example/allowed": "yes"})
	plain := newLabelledNamespace(t, nil)
	bySelector := e.clusterEngine(t, "selector", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"tokens.example/allowed": "yes"}}}
	})
	waitEngine(t, dflt, metav1.ConditionTrue, tokensv1.ReasonReachable)
	waitEngine(t, bySelector, metav1.ConditionTrue, tokensv1.ReasonReachable)

	// Omitted ref → the default engine, for a namespace its glob allows.
	g.Eventually(func(g Gomega) {
		r, err := e.resolver.Resolve(ctx, e.ns, nil, engineref.Request{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(r.Name).To(Equal(dflt.Name))
	}).WithTimeout(timeout).Should(Succeed())
	r, err := e.resolver.Resolve(ctx, "team-blue", nil, engineref.Request{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Kind).To(Equal(tokensv1.ClusterTokenEngineKind))

	// A namespace the glob does not allow.
	_, err = e.resolver.Resolve(ctx, "finance", nil, engineref.Request{})
	g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonNotPermitted))
	g.Expect(err.Error()).To(ContainSubstring("ClusterTokenEngine " + dflt.Name + " does not allow namespace finance"))
	g.Expect(err.Error()).To(ContainSubstring("matchNames [" + e.ns + ", team-*]"))

	// The label selector reads the Namespace's labels. bySelector's readiness and the
	// namespaces were awaited or written on the API server; the resolver's cache may be behind.
	ref := &tokensv1.EngineReference{Name: bySelector.Name}
	g.Eventually(func(g Gomega) {
		_, err := e.resolver.Resolve(ctx, labelled, ref, engineref.Request{})
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		_, err := e.resolver.Resolve(ctx, plain, ref, engineref.Request{})
		g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonNotPermitted))
		g.Expect(err.Error()).To(ContainSubstring("allowedNamespaces.selector tokens.example/allowed=yes"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	// A second default is ambiguous.
	e.clusterEngine(t, "dflt2", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Annotations = map[string]string{tokensv1.DefaultEngineAnnotation: "true"}
	})
	g.Eventually(func(g Gomega) {
		_, err := e.resolver.Resolve(ctx, e.ns, nil, engineref.Request{})
		g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonMultipleDefaultEngines))
	}).WithTimeout(timeout).Should(Succeed())

	// An engine that is not Ready is refused with its own reason in the message.
	down := e.clusterEngine(t, "down", "http://127.0.0.1:1")
	waitEngine(t, down, metav1.ConditionFalse, tokensv1.ReasonUnreachable)
	g.Eventually(func(g Gomega) { // the resolver's cache may not have the status waitEngine saw yet
		_, err := e.resolver.Resolve(ctx, e.ns, &tokensv1.EngineReference{Name: down.Name}, engineref.Request{})
		g.Expect(resolveReason(err)).To(Equal(tokensv1.ReasonEngineNotReady))
		g.Expect(err.Error()).To(ContainSubstring("is not Ready (Unreachable:"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
}

// The token reconcilers with the real resolver: a token in a namespace the engine does not allow
// is NotPermitted and nothing is minted; a token in an allowed namespace that omits engineRef gets
// the default engine and a working token.
func TestResolverNotPermittedTokenMintsNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	inst := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", inst.AdminToken, nil)
	cte := e.clusterEngine(t, "dflt", inst.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Annotations = map[string]string{tokensv1.DefaultEngineAnnotation: "true"}
		c.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{e.other}}
	})
	waitEngine(t, cte, metav1.ConditionTrue, tokensv1.ReasonReachable)

	newToken := func(ns string) *tokensv1.DatabaseToken {
		dbt := &tokensv1.DatabaseToken{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "writer"},
			Spec: tokensv1.DatabaseTokenSpec{Permissions: []tokensv1.DatabasePermission{
				{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite}},
			}},
		}
		g.Expect(k8s.Create(ctx, dbt)).To(Succeed())
		return dbt
	}
	tokenReady := func(g Gomega, dbt *tokensv1.DatabaseToken) metav1.Condition {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dbt), dbt)).To(Succeed())
		c := meta.FindStatusCondition(dbt.Status.Conditions, tokensv1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		return *c
	}

	refused := newToken(e.ns)
	g.Eventually(func(g Gomega) {
		c := tokenReady(g, refused)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonNotPermitted))
		g.Expect(c.Message).To(ContainSubstring("does not allow namespace " + e.ns))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	allowed := newToken(e.other)
	g.Eventually(func(g Gomega) {
		g.Expect(tokenReady(g, allowed).Status).To(Equal(metav1.ConditionTrue))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	sec := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: e.other, Name: "writer"}, sec)).To(Succeed())
	g.Expect(tokenenginetest.AuthorizeStatus(nil, inst.URL, string(sec.Data[tokensv1.TokenSecretKey]), "telemetry", "write")).To(Equal(http.StatusNoContent))

	// Exactly the allowed token exists in the engine; the refused one was never minted.
	var r *engineref.Resolved
	g.Eventually(func(g Gomega) { // through the manager's cache
		var err error
		r, err = e.resolver.Resolve(ctx, e.other, nil, engineref.Request{})
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	live, err := r.Engine.List(ctx, "k8s.")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(live).To(HaveLen(1))
	g.Expect(live[0].Name).To(HavePrefix("k8s." + e.other + ".writer."))
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "writer"}, &corev1.Secret{})).NotTo(Succeed())
}

func resolveReason(err error) string {
	if re, ok := engine.AsUnusable(err); ok {
		return re.Reason
	}
	return ""
}

// newLabelledNamespace creates a namespace with labels and returns its name.
func newLabelledNamespace(t *testing.T, lbls map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "eng-", Labels: lbls}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// assertNoAdminToken fails when the admin token appears in the manager logs, the engine's status
// or the events about it.
func assertNoAdminToken(t *testing.T, token string, obj tokensv1.GenericEngine) {
	t.Helper()
	ctx := context.Background()
	var hay strings.Builder
	hay.WriteString(managerLogs.String())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(obj.GetEngineStatus())
	hay.Write(b)
	var events eventsv1.EventList
	if err := k8s.List(ctx, &events); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		hay.WriteString(ev.Note)
	}
	if strings.Contains(hay.String(), token) {
		t.Fatal("the admin token appears in logs, status or events")
	}
}
