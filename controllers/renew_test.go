package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/testutil"
)

// Issue 15 item 2: each new value of the renew annotation mints one successor, with the normal
// overlap; it revives an expired token without rotation; a crash after the pending record
// still honours the request, once.
func TestRenewAnnotation(t *testing.T) {
	t.Run("LiveToken", func(t *testing.T) {
		g := NewWithT(t)
		ns, fe := withFake(t)
		obj := databaseTokenKind.new("renewme", ns, withRotation("", "3s"))
		createReady(t, databaseTokenKind, obj)
		oldTok := secretToken(g, ns, "renewme")

		annotate(g, fresh(g, databaseTokenKind, obj), tokensv1.RenewAnnotation, "v1")
		st := waitRevision(t, obj, 2)
		g.Expect(st.LastRenewRequest).To(Equal("v1"))
		newTok := secretToken(g, ns, "renewme")
		g.Expect(newTok).NotTo(Equal(oldTok))
		g.Expect(fe.Accepts(newTok)).To(BeTrue())
		g.Expect(fe.Accepts(oldTok)).To(BeTrue(), "the predecessor stays valid through the overlap")
		g.Eventually(func() bool { return fe.Accepts(oldTok) }).WithTimeout(timeout).WithPolling(poll).Should(BeFalse())
		g.Eventually(func() []string { return eventReasons(t, ns, "renewme") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonRenewRequested))

		// The same value, or another annotation, mints nothing; a new value mints once more.
		annotate(g, fresh(g, databaseTokenKind, obj), "example.com/unrelated", "x")
		g.Consistently(fe.MintCount).WithTimeout(2 * time.Second).Should(Equal(2))
		annotate(g, fresh(g, databaseTokenKind, obj), tokensv1.RenewAnnotation, "v2")
		g.Expect(waitRevision(t, obj, 3).LastRenewRequest).To(Equal("v2"))
		g.Consistently(fe.MintCount).WithTimeout(2 * time.Second).Should(Equal(3))
		assertNoPlaintext(t, ns)
	})

	t.Run("RevivesExpiredToken", func(t *testing.T) {
		g := NewWithT(t)
		ns, fe := withFake(t)
		obj := databaseTokenKind.new("revive", ns, testutil.ExpiresAfter("3s"))
		createReady(t, databaseTokenKind, obj)
		g.Eventually(func(g Gomega) {
			g.Expect(cond(databaseTokenKind.status(fresh(g, databaseTokenKind, obj)), tokensv1.ConditionExpired).Status).To(Equal(metav1.ConditionTrue))
		}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
		g.Expect(fe.MintCount()).To(Equal(1), "expiry without rotation is final until someone asks")

		annotate(g, fresh(g, databaseTokenKind, obj), tokensv1.RenewAnnotation, "revive-1")
		st := waitRevision(t, obj, 2)
		g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(cond(st, tokensv1.ConditionExpired).Reason).To(Equal(tokensv1.ReasonNotExpired))
		g.Expect(st.Previous).To(BeEmpty(), "the expired predecessor was revoked at its expiry")
		g.Expect(fe.Accepts(secretToken(g, ns, "revive"))).To(BeTrue())
		assertNoPlaintext(t, ns)
	})

	t.Run("CrashAfterPendingRecorded", func(t *testing.T) {
		g := NewWithT(t)
		ns := newNamespace(t)
		fe := fake.New()
		waitCrashed := startCrashing(t, startManager, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
		obj := databaseTokenKind.new("crashrenew", ns, withRotation("", "2s"))
		createReady(t, databaseTokenKind, obj)
		annotate(g, fresh(g, databaseTokenKind, obj), tokensv1.RenewAnnotation, "v1")
		waitCrashed()
		g.Expect(databaseTokenKind.status(fresh(g, databaseTokenKind, obj)).Pending.RenewRequest).To(Equal("v1"))

		startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
		st := waitRevision(t, obj, 3)
		g.Expect(st.Current.Revision).To(Equal(int64(3)), "r2 was abandoned; r3 answers the request")
		g.Expect(st.LastRenewRequest).To(Equal("v1"))
		assertOneLiveToken(t, fe, obj, "crashrenew")
		g.Consistently(func() int64 { return databaseTokenKind.status(fresh(g, databaseTokenKind, obj)).Revision }).
			WithTimeout(2*time.Second).Should(Equal(int64(3)), "the request is honoured once")
	})
}
