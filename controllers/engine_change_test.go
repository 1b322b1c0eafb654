package controllers_test

import (
	"context"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// Issue 16 item 6: a token is revoked in the engine that minted it. Two real engines, A and B:
// moving spec.engineRef from A to B mints the successor in B and revokes the predecessor in A
// after the overlap (before, the revocation went to B, where a 404 counted as success, and the
// token in A lived on). An engine resource that no longer exists gives RevocationFailed with
// EngineNotFound while the live token keeps working, and the skip-revocation annotation drops
// the predecessor; deletion revokes each token in the engine it lives in.
func TestEngineChangeRevokesInTheEngineThatMinted(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	e, instA, instB, a, b := twoEngines(t)
	refA := &tokensv1.EngineReference{Name: a.Name}
	refB := &tokensv1.EngineReference{Name: b.Name}

	tok := policyToken(t, e.ns, "mover", refA, "", "telemetry")
	st := databaseTokenKind.status(waitReady(t, databaseTokenKind, tok))
	g.Expect(st.Current.Engine).To(Equal(&tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: a.Name, UID: a.UID}))
	first := string(secret(g, e.ns, "mover").Data[tokensv1.TokenSecretKey])
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, first, "telemetry", "write")).To(Equal(http.StatusNoContent))

	// A → B, with a short overlap.
	setEngine(g, tok, refB, "2s")
	var second string
	g.Eventually(func(g Gomega) {
		st = databaseTokenKind.status(fresh(g, databaseTokenKind, tok))
		g.Expect(st.Current.Engine).NotTo(BeNil())
		g.Expect(st.Current.Engine.Name).To(Equal(b.Name))
		second = string(secret(g, e.ns, "mover").Data[tokensv1.TokenSecretKey])
		g.Expect(tokenenginetest.AuthorizeStatus(nil, instB.URL, second, "telemetry", "write")).To(Equal(http.StatusNoContent))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(second).NotTo(Equal(first))
	// The predecessor is revoked in A, where it was minted, after the overlap.
	g.Eventually(func() int { return tokenenginetest.AuthorizeStatus(nil, instA.URL, first, "telemetry", "write") }).
		WithTimeout(timeout).WithPolling(poll).Should(Equal(http.StatusUnauthorized))
	g.Expect(e.engineTokens(g, e.ns, refA, tok)).To(BeEmpty(), "tokens left in engine A")
	// The revocation comes before the status write that drops the record: wait for it.
	g.Eventually(func(g Gomega) {
		g.Expect(databaseTokenKind.status(fresh(g, databaseTokenKind, tok)).Previous).To(BeEmpty())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	waitEvent(g, e.ns, "mover", "", tokensv1.ReasonEngineChanged)

	// B's resource is deleted, then the token moves back to A: B's token cannot be revoked, and
	// the status says so while the new token works.
	g.Expect(k8s.Delete(ctx, b)).To(Succeed())
	setEngine(g, tok, refA, "1s")
	g.Eventually(func(g Gomega) {
		st = databaseTokenKind.status(fresh(g, databaseTokenKind, tok))
		c := cond(st, tokensv1.ConditionRevocationFailed)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%+v", c)
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonEngineNotFound))
		g.Expect(c.Message).To(ContainSubstring(b.Name))
		g.Expect(c.Message).To(ContainSubstring(tokensv1.SkipRevocationAnnotation))
		g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(st.Current.Engine.Name).To(Equal(a.Name))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	third := string(secret(g, e.ns, "mover").Data[tokensv1.TokenSecretKey])
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, third, "telemetry", "write")).To(Equal(http.StatusNoContent))
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instB.URL, second, "telemetry", "write")).To(Equal(http.StatusNoContent), "B still holds its token")

	// The escape hatch drops it (it stays valid in B until it expires, as the event says).
	annotate(g, tok, tokensv1.SkipRevocationAnnotation, "true")
	g.Eventually(func(g Gomega) {
		st = databaseTokenKind.status(fresh(g, databaseTokenKind, tok))
		g.Expect(st.Previous).To(BeEmpty())
		g.Expect(cond(st, tokensv1.ConditionRevocationFailed).Status).To(Equal(metav1.ConditionFalse))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	waitEvent(g, e.ns, "mover", corev1.EventTypeWarning, tokensv1.ReasonRevocationSkipped)

	// Deletion revokes the live token in A, where it lives.
	annotate(g, tok, tokensv1.SkipRevocationAnnotation, "")
	g.Expect(k8s.Delete(ctx, tok)).To(Succeed())
	waitGone(t, tok)
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, third, "telemetry", "write")).To(Equal(http.StatusUnauthorized))
	g.Expect(e.engineTokens(g, e.ns, refA, tok)).To(BeEmpty())
}

// Deletion after an engine change, inside the overlap: each token is revoked in its own engine
// (the predecessor in A, the live one in B), not both in the resource's current engine.
func TestDeletionRevokesEachTokenWhereItLives(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	e, instA, instB, a, b := twoEngines(t)
	refA, refB := &tokensv1.EngineReference{Name: a.Name}, &tokensv1.EngineReference{Name: b.Name}

	tok := policyToken(t, e.ns, "leaver", refA, "", "telemetry")
	waitReady(t, databaseTokenKind, tok)
	first := string(secret(g, e.ns, "leaver").Data[tokensv1.TokenSecretKey])
	setEngine(g, tok, refB, "1h")
	var second string
	g.Eventually(func(g Gomega) {
		st := databaseTokenKind.status(fresh(g, databaseTokenKind, tok))
		g.Expect(st.Current.Engine.Name).To(Equal(b.Name))
		g.Expect(st.Previous).To(HaveLen(1))
		g.Expect(st.Previous[0].Engine.Name).To(Equal(a.Name))
		second = string(secret(g, e.ns, "leaver").Data[tokensv1.TokenSecretKey])
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, first, "telemetry", "write")).To(Equal(http.StatusNoContent), "inside the overlap")

	g.Expect(k8s.Delete(ctx, tok)).To(Succeed())
	waitGone(t, tok)
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, first, "telemetry", "write")).To(Equal(http.StatusUnauthorized))
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instB.URL, second, "telemetry", "write")).To(Equal(http.StatusUnauthorized))
	g.Expect(e.engineTokens(g, e.ns, refA, tok)).To(BeEmpty())
	g.Expect(e.engineTokens(g, e.ns, refB, tok)).To(BeEmpty())
}

// twoEngines starts two real engines, A and B, and a manager with a ClusterTokenEngine for each.
func twoEngines(t *testing.T) (e *engineEnv, instA, instB *tokenenginetest.Instance, a, b *tokensv1.ClusterTokenEngine) {
	t.Helper()
	instA, instB = tokenenginetest.Start(t), tokenenginetest.Start(t)
	e = startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", instA.AdminToken, nil)
	e.adminSecret(t, e.ns, "admin-b", instB.AdminToken, nil)
	a = e.clusterEngine(t, "a", instA.URL)
	b = e.clusterEngine(t, "b", instB.URL, func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.InfluxDB3.AdminTokenSecretRef.Name = "admin-b"
	})
	waitEngine(t, a, metav1.ConditionTrue, tokensv1.ReasonReachable)
	waitEngine(t, b, metav1.ConditionTrue, tokensv1.ReasonReachable)
	return e, instA, instB, a, b
}

// setEngine points tok at ref with the given rotation.overlap.
func setEngine(g Gomega, tok *tokensv1.DatabaseToken, ref *tokensv1.EngineReference, overlap string) {
	g.Eventually(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(tok), tok); err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(tok.DeepCopy(), client.MergeFromWithOptimisticLock{})
		tok.Spec.EngineRef = ref
		d := tokensv1.Duration(overlap)
		tok.Spec.Rotation = &tokensv1.Rotation{Overlap: &d}
		return k8s.Patch(context.Background(), tok, patch)
	}).WithTimeout(timeout).Should(Succeed())
}

// Issue 14 item 4c: a resource moved to an engine whose policy refuses it is NotPermitted, and
// its tokens are revoked where they were minted, even while the new engine cannot be resolved
// for revocation (not Ready: its credentials Secret is missing). Before, the pass required the
// new engine first and left the token in A alive, "until the engine is usable".
func TestNotPermittedRevokesWhereMintedWhileTheNewEngineIsNotReady(t *testing.T) {
	g := NewWithT(t)
	instA := tokenenginetest.Start(t)
	e := startEngineManagerWith(t, controllers.EngineDeps{}, true)
	e.adminSecret(t, e.ns, "admin", instA.AdminToken, nil)
	a := e.clusterEngine(t, "a", instA.URL)
	b := e.clusterEngine(t, "b", "http://127.0.0.1:1", func(c *tokensv1.ClusterTokenEngine) {
		c.Spec.InfluxDB3.AdminTokenSecretRef.Name = "missing"
		c.Spec.Policy = &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{{Name: "others", Databases: []string{"other"}}}}
	})
	waitEngine(t, a, metav1.ConditionTrue, tokensv1.ReasonReachable)
	g.Eventually(func(g Gomega) {
		g.Expect(engineCondition(g, b, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	refA := &tokensv1.EngineReference{Name: a.Name}

	tok := policyToken(t, e.ns, "mover", refA, "", "telemetry")
	first := databaseTokenKind.status(waitReady(t, databaseTokenKind, tok)).Current.TokenName
	plain := string(secret(g, e.ns, "mover").Data[tokensv1.TokenSecretKey])
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, plain, "telemetry", "write")).To(Equal(http.StatusNoContent))

	setEngine(g, tok, &tokensv1.EngineReference{Name: b.Name}, "2s")
	// The pass after the revocation finds no tokens and says NotPermitted without "Revoked": the
	// event tells of the revocation.
	g.Eventually(func(g Gomega) {
		g.Expect(warnings(g, e.ns, "mover")).To(ContainElement(And(ContainSubstring(tokensv1.ReasonNotPermitted), ContainSubstring("Revoked "+first))))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	st := waitNotPermitted(t, databaseTokenKind, tok, `does not permit database "telemetry"`)
	g.Expect(st.Current).To(BeNil())
	g.Expect(tokenenginetest.AuthorizeStatus(nil, instA.URL, plain, "telemetry", "write")).To(Equal(http.StatusUnauthorized))
	g.Expect(e.engineTokens(g, e.ns, refA, tok)).To(BeEmpty(), "tokens left in engine A")
	g.Expect(secret(g, e.ns, "mover").Data).NotTo(HaveKey(tokensv1.TokenSecretKey))
}
