package controllers_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/testutil"
)

// The first mint, for both kinds: Secret, status, printer-column fields, events.
func TestMintWritesSecretAndStatus(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns, fe := withFake(t)
			obj := k.new("writer", ns, testutil.ExpiresAfter("1h"), testutil.WithSecretName("influx"),
				testutil.WithExtraKey("INFLUX_HOST", "{{ .EngineURL }}"), testutil.WithExtraKey("TOKEN_NAME", "{{ .TokenName }}"))
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())

			got := waitReady(t, k, obj)
			st := k.status(got)
			cur := st.Current
			g.Expect(got.GetFinalizers()).To(ContainElement(tokensv1.Finalizer))
			g.Expect(cur.TokenName).To(Equal(lifecycle.TokenName(ns, "writer", got.GetUID(), 1)))
			g.Expect(cur.Revision).To(BeEquivalentTo(1))
			g.Expect(cur.TokenID).NotTo(BeEmpty())
			g.Expect(cur.MintedAt).NotTo(BeNil())
			g.Expect(cur.ExpiresAt).NotTo(BeNil())
			g.Expect(cur.ExpiresAt.Sub(cur.MintedAt.Time)).To(BeNumerically("~", time.Hour, time.Second))
			g.Expect(st.SecretName).To(Equal("influx"))
			g.Expect(st.ObservedGeneration).To(Equal(got.GetGeneration()))
			g.Expect(cond(st, tokensv1.ConditionEngineReachable).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond(st, tokensv1.ConditionSecretConflict).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond(st, tokensv1.ConditionReady).Message).To(ContainSubstring(`Secret "influx" holds token`))

			sec := secret(g, ns, "influx")
			g.Expect(sec).NotTo(BeNil())
			tok := string(sec.Data[tokensv1.TokenSecretKey])
			g.Expect(tok).To(HavePrefix(fake.TokenPrefix))
			g.Expect(lifecycle.Fingerprint(got.GetUID(), []byte(tok))).To(Equal(cur.Fingerprint))
			g.Expect(cur.Fingerprint).NotTo(ContainSubstring(tok))
			g.Expect(string(sec.Data["INFLUX_HOST"])).To(Equal(engineURL))
			g.Expect(string(sec.Data["TOKEN_NAME"])).To(Equal(cur.TokenName))
			g.Expect(sec.Labels).To(HaveKeyWithValue(tokensv1.ManagedByLabel, tokensv1.ManagedByValue))
			g.Expect(sec.Labels).To(HaveKeyWithValue(tokensv1.OwnerUIDLabel, string(got.GetUID())))
			g.Expect(sec.Annotations).To(HaveKeyWithValue(tokensv1.TokenNameAnnotation, cur.TokenName))
			g.Expect(sec.Annotations).To(HaveKeyWithValue(tokensv1.RevisionAnnotation, "1"))
			g.Expect(metav1.IsControlledBy(sec, got)).To(BeTrue(), "the Secret must be controlled by the token resource")

			// The engine accepts exactly what the spec asked for.
			if k.name == "DatabaseToken" {
				g.Expect(st.Permissions).To(Equal("db:telemetry:write"))
				g.Expect(fe.Allows(tok, engine.ResourceDatabase, "telemetry", engine.ActionWrite)).To(BeTrue())
				g.Expect(fe.Allows(tok, engine.ResourceDatabase, "telemetry", engine.ActionRead)).To(BeFalse())
				g.Expect(fe.Allows(tok, engine.ResourceDatabase, "other", engine.ActionWrite)).To(BeFalse())
			} else {
				g.Expect(st.Permissions).To(Equal("system:metrics:read"))
				g.Expect(fe.Allows(tok, engine.ResourceSystem, "metrics", engine.ActionRead)).To(BeTrue())
				g.Expect(fe.Allows(tok, engine.ResourceSystem, "health", engine.ActionRead)).To(BeFalse())
			}
			g.Expect(fe.MintCount()).To(Equal(1))

			// Steady state: no more engine calls or writes, one Minted event.
			rv := got.GetResourceVersion()
			calls := fe.Calls(fake.OpMint) + fe.Calls(fake.OpRevoke) + fe.Calls(fake.OpLookup)
			g.Consistently(func(g Gomega) {
				g.Expect(fresh(g, k, obj).GetResourceVersion()).To(Equal(rv))
			}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
			g.Expect(fe.Calls(fake.OpMint) + fe.Calls(fake.OpRevoke) + fe.Calls(fake.OpLookup)).To(Equal(calls))
			g.Eventually(func() []string { return eventReasons(t, ns, "writer") }).WithTimeout(timeout).
				Should(Equal([]string{tokensv1.ReasonMinted}))
			assertNoPlaintext(t, ns)
		})
	}
}

// A SystemToken on an engine without system tokens is refused with a reason; nothing is minted.
func TestSystemTokenOnEngineWithoutSystemTokens(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, false)})
	obj := systemTokenKind.new("scrape", ns)
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(systemTokenKind.status(fresh(g, systemTokenKind, obj)), tokensv1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonUnsupported))
		g.Expect(c.Message).To(ContainSubstring("influxdb3"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(fe.MintCount()).To(BeZero())
	g.Expect(secret(g, ns, "scrape")).To(BeNil())
}

// A Secret of the target name that is not ours is never overwritten, and no token stays live.
// The first mint trusts the cache's miss (no uncached read on the happy path, issue 19), so it
// meets the foreign Secret at step 4's create: that one token is revoked at once, and every
// later pass reads uncached and mints nothing (docs/design.md §3, step 4).
func TestSecretConflictNeverOverwrites(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns, fe := withFake(t)
			foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns}, Data: map[string][]byte{"token": []byte("theirs")}}
			g.Expect(k8s.Create(context.Background(), foreign)).To(Succeed())
			obj := k.new("conflicted", ns, testutil.WithSecretName("taken"))
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())

			g.Eventually(func(g Gomega) {
				st := k.status(fresh(g, k, obj))
				g.Expect(cond(st, tokensv1.ConditionSecretConflict).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(cond(st, tokensv1.ConditionReady).Reason).To(Equal(tokensv1.ReasonSecretExists))
				g.Expect(cond(st, tokensv1.ConditionReady).Message).To(ContainSubstring("spec.secret.name"))
			}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
			g.Expect(fe.MintCount()).To(BeNumerically("<=", 1))
			g.Expect(fe.Live()).To(BeEmpty())
			minted := fe.MintCount()
			sec := secret(g, ns, "taken")
			g.Expect(string(sec.Data["token"])).To(Equal("theirs"))
			g.Expect(sec.OwnerReferences).To(BeEmpty())
			g.Eventually(func() []string { return eventReasons(t, ns, "conflicted") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonSecretExists))
			g.Consistently(fe.MintCount).WithTimeout(2 * time.Second).Should(Equal(minted)) // the retries mint nothing

			// Deleting the resource leaves the foreign Secret alone.
			g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
			waitGone(t, obj)
			g.Expect(secret(g, ns, "taken")).NotTo(BeNil())
		})
	}
}

// A template that does not render is a condition naming the key; nothing is minted.
func TestTemplateErrorMintsNothing(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	obj := databaseTokenKind.new("templated", ns, testutil.WithExtraKey("BROKEN", "{{ .NoSuchField }}"))
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(databaseTokenKind.status(fresh(g, databaseTokenKind, obj)), tokensv1.ConditionReady)
		g.Expect(c.Reason).To(Equal(tokensv1.ReasonTemplateError))
		g.Expect(c.Message).To(ContainSubstring("BROKEN"))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(fe.MintCount()).To(BeZero())
	g.Expect(secret(g, ns, "templated")).To(BeNil())
}

// At the expiry instant the token is revoked and taken out of the Secret, which stays.
func TestExpiryRevokesAtTheInstant(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns, fe := withFake(t)
			obj := k.new("short", ns, testutil.ExpiresAfter("4s"), testutil.WithExtraKey("HOST", "{{ .EngineURL }}"))
			got := createReady(t, k, obj)
			expiresAt := k.status(got).Current.ExpiresAt.Time
			name := k.status(got).Current.TokenName

			var seen time.Time
			g.Eventually(func(g Gomega) {
				st := k.status(fresh(g, k, obj))
				g.Expect(cond(st, tokensv1.ConditionReady).Reason).To(Equal(tokensv1.ReasonExpired))
				g.Expect(cond(st, tokensv1.ConditionExpired).Status).To(Equal(metav1.ConditionTrue))
				seen = time.Now()
			}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
			g.Expect(seen.Sub(expiresAt)).To(BeNumerically("<", 2*time.Second), "expiry must be carried out at the instant, not by polling")
			g.Expect(fe.Tokens()).NotTo(ContainElement(HaveField("Name", name)), "the expired token must be revoked in the engine")
			sec := secret(g, ns, "short")
			g.Expect(sec).NotTo(BeNil(), "the Secret stays; workloads keep mounting it")
			g.Expect(sec.Data).NotTo(HaveKey(tokensv1.TokenSecretKey))
			g.Expect(string(sec.Data["HOST"])).To(Equal(engineURL))
			g.Eventually(func() []string { return eventReasons(t, ns, "short") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonExpired))
			g.Expect(fe.MintCount()).To(Equal(1), "an expired token without rotation is not re-minted")
		})
	}
}

// Deletion revokes the token, deletes the Secret and releases the finalizer.
func TestDeletionRevokesAndDeletesSecret(t *testing.T) {
	for _, k := range bothKinds {
		t.Run(k.name, func(t *testing.T) {
			g := NewWithT(t)
			ns, fe := withFake(t)
			obj := k.new("doomed", ns)
			cur := k.status(createReady(t, k, obj)).Current
			g.Expect(liveWithPrefix(fe, obj)).To(HaveLen(1))
			g.Expect(cur.TokenID).NotTo(BeEmpty())

			g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
			waitGone(t, obj)
			g.Expect(liveWithPrefix(fe, obj)).To(BeEmpty())
			// A pass over a stale view may revoke again (idempotent): every revoke carries the id.
			g.Expect(fe.RevokedIDs(cur.TokenName)).To(And(Not(BeEmpty()), HaveEach(cur.TokenID)),
				"the revoke carries the id status recorded: engines without unique names delete by it instead of listing")
			g.Eventually(func(g Gomega) *corev1.Secret { return secret(g, ns, "doomed") }).WithTimeout(timeout).Should(BeNil())
		})
	}
}

// With the engine down, deletion keeps the finalizer and says how to release on purpose; the
// skip-revocation annotation then releases without revoking.
func TestDeletionWithEngineDownAndSkipRevocation(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	k := databaseTokenKind
	obj := k.new("stuck", ns)
	createReady(t, k, obj)

	fe.SetDown(true)
	g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	g.Eventually(func(g Gomega) {
		st := k.status(fresh(g, k, obj))
		c := cond(st, tokensv1.ConditionRevocationFailed)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring(tokensv1.SkipRevocationAnnotation))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Expect(secret(g, ns, "stuck")).NotTo(BeNil(), "an engine outage never deletes a Secret")
	g.Eventually(func() []string { return eventReasons(t, ns, "stuck") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonRevocationFailed))

	cur := fresh(g, k, obj)
	annotate(g, cur, tokensv1.SkipRevocationAnnotation, "true")
	waitGone(t, obj)
	fe.SetDown(false)
	g.Expect(liveWithPrefix(fe, obj)).To(HaveLen(1), "skip-revocation releases without revoking")
	g.Eventually(func(g Gomega) *corev1.Secret { return secret(g, ns, "stuck") }).WithTimeout(timeout).Should(BeNil())
}

// A revocation the engine refuses as Permanent is retried with backoff (not dropped until
// something else wakes the resource), RevocationFailed stays visible, and the deletion completes
// once the engine accepts it.
func TestDeletionRetriesPermanentRevocationFailure(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	k := databaseTokenKind
	obj := k.new("refused", ns)
	createReady(t, k, obj)

	// The engine refuses until the test has seen RevocationFailed (the backoff's first retries
	// come within milliseconds, so a fixed number of refusals could all pass between two polls),
	// then once more, then accepts.
	var seen atomic.Bool
	var refusedAfterSeen atomic.Int32
	fe.SetFailFunc(func(op fake.Op, _ string) error {
		if op == fake.OpRevoke && (!seen.Load() || refusedAfterSeen.Add(1) == 1) {
			return engine.PermanentErrorf("the engine refuses to delete this token")
		}
		return nil
	})
	g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(k.status(fresh(g, k, obj)), tokensv1.ConditionRevocationFailed)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	seen.Store(true)
	// Nothing touches the resource from here on: only the retry can finish the deletion.
	waitGone(t, obj)
	g.Expect(liveWithPrefix(fe, obj)).To(BeEmpty())
	g.Expect(fe.Calls(fake.OpRevoke)).To(BeNumerically(">=", 3))
}

// Names to revoke come from status, which whoever may patch status controls: a forged name (here
// another resource's live token) is never revoked, a Warning says so, and deletion goes on.
func TestForgedStatusNameIsNotRevoked(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	k := databaseTokenKind
	victim := k.new("victim", ns)
	forger := k.new("forger", ns)
	g.Expect(k8s.Create(context.Background(), victim)).To(Succeed())
	g.Expect(k8s.Create(context.Background(), forger)).To(Succeed())
	waitReady(t, k, victim)
	waitReady(t, k, forger)
	target := k.status(fresh(g, k, victim)).Current.TokenName

	forged := fmt.Sprintf(`{"status":{"previous":[{"tokenName":%q,"revision":1,"revokeAt":"2020-01-01T00:00:00Z"}]}}`, target)
	g.Expect(k8s.Status().Patch(context.Background(), fresh(g, k, forger), client.RawPatch(types.MergePatchType, []byte(forged)))).To(Succeed())
	g.Expect(k8s.Delete(context.Background(), forger)).To(Succeed())
	waitGone(t, forger)

	g.Expect(liveWithPrefix(fe, victim)).To(ContainElement(HaveField("Name", target)), "the forged name was revoked")
	g.Expect(liveWithPrefix(fe, forger)).To(BeEmpty(), "the forger's own token is revoked")
	g.Eventually(func() []string { return eventReasons(t, ns, "forger") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonNotOurToken))
}

// deletionPolicy Retain leaves the token live and hands the Secret over to the user.
func TestDeletionPolicyRetain(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	k := databaseTokenKind
	obj := k.new("kept", ns, testutil.WithDeletionPolicy(tokensv1.DeletionPolicyRetain))
	createReady(t, k, obj)
	g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	waitGone(t, obj)

	g.Expect(liveWithPrefix(fe, obj)).To(HaveLen(1))
	// Garbage collection does not run in envtest; the ownerReference must be gone so it would not.
	sec := secret(g, ns, "kept")
	g.Expect(sec).NotTo(BeNil())
	g.Expect(sec.OwnerReferences).To(BeEmpty())
	g.Expect(sec.Labels).NotTo(HaveKey(tokensv1.ManagedByLabel))
	g.Expect(sec.Labels).NotTo(HaveKey(tokensv1.OwnerUIDLabel))
	g.Expect(fe.Accepts(string(sec.Data[tokensv1.TokenSecretKey]))).To(BeTrue())
}

// An engine outage for the length of a test, then recovery: nothing lost, bounded retries,
// conditions telling the truth throughout.
func TestEngineOutageAndRecovery(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	k := databaseTokenKind

	// A token that is live before the outage and expires during it keeps its Secret untouched.
	live := k.new("live", ns, testutil.ExpiresAfter("5s"))
	g.Expect(k8s.Create(context.Background(), live)).To(Succeed())
	waitReady(t, k, live)
	tok := secretToken(g, ns, "live")

	fe.SetDown(true)
	start := fe.Calls(fake.OpMint)
	fresh1 := k.new("during", ns)
	g.Expect(k8s.Create(context.Background(), fresh1)).To(Succeed())
	g.Eventually(func(g Gomega) {
		st := k.status(fresh(g, k, fresh1))
		g.Expect(cond(st, tokensv1.ConditionEngineReachable).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(cond(st, tokensv1.ConditionEngineReachable).Reason).To(Equal(tokensv1.ReasonEngineError))
		g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		st := k.status(fresh(g, k, live))
		g.Expect(cond(st, tokensv1.ConditionEngineReachable).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(cond(st, tokensv1.ConditionReady).Reason).To(Equal(tokensv1.ReasonExpired))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())

	time.Sleep(3 * time.Second)
	g.Expect(secretToken(g, ns, "live")).To(Equal(tok), "an engine outage never empties a Secret")
	g.Expect(secret(g, ns, "during")).To(BeNil())
	// Exponential backoff: a handful of attempts in several seconds, not a hot loop.
	g.Expect(fe.Calls(fake.OpMint) - start).To(BeNumerically("<", 20))

	fe.SetDown(false)
	waitReady(t, k, fresh1)
	g.Eventually(func(g Gomega) {
		st := k.status(fresh(g, k, live))
		g.Expect(cond(st, tokensv1.ConditionEngineReachable).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(secret(g, ns, "live").Data).NotTo(HaveKey(tokensv1.TokenSecretKey))
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	g.Eventually(func() []string { return eventReasons(t, ns, "during") }).WithTimeout(timeout).Should(ContainElements(tokensv1.ReasonEngineError, tokensv1.ReasonMinted))
	assertNoPlaintext(t, ns)
}

// Stopping the manager right after each step of the mint protocol and starting a fresh one
// leaves exactly one live engine token, held by the Secret and named in status.
func TestCrashBetweenProtocolSteps(t *testing.T) {
	steps := []lifecycle.Step{lifecycle.StepPendingRecorded, lifecycle.StepMinted, lifecycle.StepSecretWritten, lifecycle.StepCurrentRecorded}
	for _, step := range steps {
		t.Run(string(step), func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			fe := fake.New()
			crashed := make(chan struct{})
			var mgr *runningManager
			hook := func(_ context.Context, s lifecycle.Step, _ client.Object) error {
				if s != step {
					return nil
				}
				select {
				case <-crashed:
				default:
					close(crashed)
					mgr.cancel() // the process dies here: no further step, no status write
				}
				return context.Canceled
			}
			mgr = startManagerWith(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true), StepHook: hook})
			obj := databaseTokenKind.new("crashy", ns)
			g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
			g.Eventually(crashed).WithTimeout(timeout).Should(BeClosed())
			mgr.stop()

			startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
			assertOneLiveToken(t, fe, obj, "crashy")
		})
	}

	t.Run("LostMintResponse", func(t *testing.T) {
		ns, fe := withFake(t)
		fe.LoseNextMintResponses(1)
		obj := databaseTokenKind.new("lossy", ns)
		NewWithT(t).Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		assertOneLiveToken(t, fe, obj, "lossy")
	})
}

// assertOneLiveToken waits for obj to be Ready and checks the invariant of docs/design.md §3: exactly
// one live engine token for the resource, the one status names and the Secret holds.
func assertOneLiveToken(t *testing.T, fe *fake.Engine, obj client.Object, secretName string) {
	t.Helper()
	g := NewWithT(t)
	got := waitReady(t, databaseTokenKind, obj)
	cur := databaseTokenKind.status(got).Current
	g.Eventually(func() []engine.TokenInfo { return liveWithPrefix(fe, obj) }).WithTimeout(timeout).
		Should(ConsistOf(HaveField("Name", cur.TokenName)), "exactly one live token, the current one")
	sec := secret(g, obj.GetNamespace(), secretName)
	g.Expect(sec).NotTo(BeNil())
	g.Expect(sec.Annotations[tokensv1.TokenNameAnnotation]).To(Equal(cur.TokenName))
	g.Expect(fe.Accepts(string(sec.Data[tokensv1.TokenSecretKey]))).To(BeTrue(), "the Secret holds the live token")
	assertNoPlaintext(t, obj.GetNamespace())
}

// Two managers without leader election on the same resources still mint at most one live token
// per resource (optimistic concurrency on status.pending and the deterministic names).
func TestTwoManagersAtMostOneLiveTokenEach(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	fe.SetLatency(20 * time.Millisecond) // widen the race window
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})

	const n = 12
	var objs []client.Object
	for i := range n {
		obj := databaseTokenKind.new("racer-"+strconv.Itoa(i), ns)
		g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
		objs = append(objs, obj)
	}
	for _, obj := range objs {
		got := waitReady(t, databaseTokenKind, obj)
		cur := databaseTokenKind.status(got).Current
		g.Eventually(func() []engine.TokenInfo { return liveWithPrefix(fe, obj) }).WithTimeout(timeout).
			Should(ConsistOf(HaveField("Name", cur.TokenName)), "%s: one live token", obj.GetName())
		g.Expect(fe.Accepts(string(secret(g, ns, obj.GetName()).Data[tokensv1.TokenSecretKey]))).To(BeTrue())
	}
	g.Expect(fe.Live()).To(HaveLen(n))
	assertNoPlaintext(t, ns)
}
