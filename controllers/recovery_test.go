package controllers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// startLeaderManager runs a manager with leader election (lease "recovery" in ns, short
// timings) and the token reconcilers told so. Cancelling it does not release the lease, as a
// killed process would not.
func startLeaderManager(t testing.TB, ns string, deps controllers.TokenDeps) *runningManager {
	t.Helper()
	mgr := newTestManager(t, restCfg, ctrl.Options{
		Cache:                   managerCache(ns),
		LeaderElection:          true,
		LeaderElectionID:        "recovery",
		LeaderElectionNamespace: ns,
		LeaseDuration:           ptr.To(3 * time.Second),
		RenewDeadline:           ptr.To(2 * time.Second),
		RetryPeriod:             ptr.To(500 * time.Millisecond),
	})
	deps.LeaderElection = true
	if _, err := controllers.Setup(context.Background(), mgr, nil, &deps); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return runManager(t, ctx, cancel, mgr, true) // "leader election lost" on cancel is expected
}

// startCrashing runs start(t, ns, deps) with a step hook that kills that manager right after it
// recorded the pending mint of revision 2 (the first renewal); waitCrashed waits until it did and
// the manager has stopped.
func startCrashing(t *testing.T, start func(testing.TB, string, controllers.TokenDeps) *runningManager, ns string, deps controllers.TokenDeps) (waitCrashed func()) {
	var mgr *runningManager
	var crashed chan struct{}
	deps.StepHook, crashed = crashAtRenewal(&mgr)
	mgr = start(t, ns, deps)
	return func() {
		t.Helper()
		NewWithT(t).Eventually(crashed).WithTimeout(timeout).Should(BeClosed())
		mgr.stop()
	}
}

// crashAtRenewal returns a step hook that kills the manager *m right after it recorded the
// pending mint of revision 2 (the first renewal), and a channel closed then.
func crashAtRenewal(m **runningManager) (lifecycle.StepHook, chan struct{}) {
	crashed := make(chan struct{})
	return func(_ context.Context, s lifecycle.Step, obj client.Object) error {
		st := databaseTokenKind.status(obj)
		if s != lifecycle.StepPendingRecorded || st.Pending == nil || st.Pending.Revision < 2 {
			return nil
		}
		select {
		case <-crashed:
		default:
			close(crashed)
			(*m).cancel() // the process dies here: no mint, no status write
		}
		return context.Canceled
	}, crashed
}

// Issue 15, the observed failure: the manager is killed right after recording pending r2 (the
// renewal); without leader election the restarted manager leaves r2 its grace, r1 expires
// during it, and then r2 is abandoned and r1 expired. A rotating token must not stay expired:
// a successor r3 is written as soon as the operator can mint, with a Warning event and the
// Expired=False condition saying how long the gap was; r1 and r2 are revoked.
func TestRotatingTokenRecoversFromExpiryDuringPendingGrace(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	waitCrashed := startCrashing(t, startManager, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	obj := databaseTokenKind.new("gap", ns, testutil.ExpiresAfter("8s"), withRotation("5s", ""))
	first := databaseTokenKind.status(createReady(t, databaseTokenKind, obj)).Current
	waitCrashed()

	// The pending grace (8 s from ~3 s) ends after r1's expiry (8 s).
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true), PendingGrace: 8 * time.Second})
	st := waitRevision(t, obj, 3)
	g.Expect(st.Current.Revision).To(Equal(int64(3)), "r2 was abandoned, r3 is its successor")
	g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	c := cond(st, tokensv1.ConditionExpired)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(tokensv1.ReasonRenewedAfterExpiry))
	g.Expect(c.Message).To(ContainSubstring(first.TokenName))
	g.Expect(c.Message).To(MatchRegexp(`no working token for [0-9]+s`))
	g.Expect(st.LastRenewRequest).To(BeEmpty())

	sec := secret(g, ns, "gap")
	g.Expect(sec.Annotations[tokensv1.TokenNameAnnotation]).To(Equal(st.Current.TokenName))
	g.Expect(fe.Accepts(string(sec.Data[tokensv1.TokenSecretKey]))).To(BeTrue(), "the Secret holds a working successor")
	g.Eventually(func() []engine.TokenInfo { return liveWithPrefix(fe, obj) }).WithTimeout(timeout).
		Should(ConsistOf(HaveField("Name", st.Current.TokenName)), "r1 (expired) and r2 (abandoned) are revoked")
	g.Eventually(func() []string { return warningReasons(t, ns, "gap") }).WithTimeout(timeout).
		Should(ContainElements(tokensv1.ReasonExpired, tokensv1.ReasonRenewedAfterExpiry))

	// The gap stays visible until the next mint, and the successor renews normally.
	st = waitRevision(t, obj, 4)
	g.Expect(cond(st, tokensv1.ConditionExpired).Reason).To(Equal(tokensv1.ReasonNotExpired))
	assertNoPlaintext(t, ns)
}

// With leader election, the restarted manager holds the lease only after the killed leader's
// lease expired, so the pending r2 it finds is an earlier leader's: abandoned at once (not
// after the 30 s grace) and r3 renews r1 before it expires: no gap.
func TestRotatingTokenLeaderAbandonsEarlierLeadersPendingAtOnce(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	waitCrashed := startCrashing(t, startLeaderManager, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true), PendingGrace: 30 * time.Second})
	obj := databaseTokenKind.new("handover", ns, testutil.ExpiresAfter("14s"), withRotation("10s", ""))
	first := databaseTokenKind.status(createReady(t, databaseTokenKind, obj)).Current
	waitCrashed()

	startLeaderManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true), PendingGrace: 30 * time.Second})
	st := waitRevision(t, obj, 3)
	g.Expect(st.Current.MintedAt.Time).To(BeTemporally("<", first.ExpiresAt.Time), "renewed before r1 expired")
	g.Expect(cond(st, tokensv1.ConditionExpired).Reason).To(Equal(tokensv1.ReasonNotExpired))
	g.Expect(st.Previous).To(ContainElement(HaveField("TokenName", first.TokenName)), "r1 stays valid until its expiry")
	g.Expect(fe.Accepts(secretToken(g, ns, "handover"))).To(BeTrue())
	abandoned := lifecycle.TokenName(ns, "handover", obj.GetUID(), 2)
	g.Expect(liveWithPrefix(fe, obj)).NotTo(ContainElement(HaveField("Name", abandoned)), "the abandoned r2 is not live")
	g.Eventually(func() []string { return eventReasons(t, ns, "handover") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonRenewed))
	g.Expect(warningReasons(t, ns, "handover")).NotTo(ContainElement(tokensv1.ReasonExpired))
	assertNoPlaintext(t, ns)
}

// Against the real engine: a rotating token whose manager was down through its expiry gets a
// working successor as soon as a manager runs again; the expired one is revoked.
func TestRealEngineRotatingTokenRecoversAfterDowntime(t *testing.T) {
	g := NewWithT(t)
	inst := tokenenginetest.Start(t)
	eng := adminClient(t, inst)
	deps := controllers.TokenDeps{Resolver: &engineref.Static{Resolved: engineref.Resolved{
		Engine: recording{eng}, Kind: tokensv1.ClusterTokenEngineKind, Name: "default", Description: enginefactory.Description{Type: "influxdb3", WorkloadURL: inst.URL, SupportsSystemTokens: true},
	}}}
	ns := newNamespace(t)
	mgr := startManager(t, ns, deps)
	obj := databaseTokenKind.new("downtime", ns, testutil.ExpiresAfter("6s"), withRotation("2s", ""))
	first := databaseTokenKind.status(createReady(t, databaseTokenKind, obj)).Current
	mgr.stop() // before renewAt (about 4 s after the mint)
	g.Expect(databaseTokenKind.status(fresh(g, databaseTokenKind, obj)).Current.Revision).To(Equal(int64(1)), "stopped before the renewal")
	oldTok := secretToken(g, ns, "downtime")
	time.Sleep(time.Until(first.ExpiresAt.Add(time.Second)))
	authorize := inst.URL + "/api/v3/authorize?db=telemetry&action=write"
	g.Expect(engineStatus(t, authorize, oldTok)).To(Equal(http.StatusUnauthorized), "the engine rejects the expired token itself")

	startManager(t, ns, deps)
	st := waitRevision(t, obj, 2)
	g.Expect(cond(st, tokensv1.ConditionExpired).Reason).To(Equal(tokensv1.ReasonRenewedAfterExpiry))
	g.Expect(engineStatus(t, authorize, secretToken(g, ns, "downtime"))).To(Equal(http.StatusNoContent))
	_, err := eng.Lookup(context.Background(), first.TokenName)
	g.Expect(engine.IsNotFound(err)).To(BeTrue(), "the expired predecessor is revoked: %v", err)
	g.Eventually(func() []string { return warningReasons(t, ns, "downtime") }).WithTimeout(timeout).
		Should(ContainElement(tokensv1.ReasonRenewedAfterExpiry))
	assertNoPlaintext(t, ns)
}
