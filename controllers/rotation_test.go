package controllers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/testutil"
)

// withRotation sets spec.rotation.
func withRotation(renewBefore, overlap string) testutil.Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) {
		s.Rotation = &tokensv1.Rotation{}
		if renewBefore != "" {
			s.Rotation.RenewBefore = ptr.To(tokensv1.Duration(renewBefore))
		}
		if overlap != "" {
			s.Rotation.Overlap = ptr.To(tokensv1.Duration(overlap))
		}
	}
}

// withRestartTargets sets the workloads the operator restarts when the token changes.
func withRestartTargets(targets ...tokensv1.RolloutTarget) testutil.Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) { s.Secret.RolloutRestartTargets = targets }
}

// setPermissions changes a DatabaseToken's permissions to read on db.
func setPermissions(g Gomega, obj client.Object, db string) {
	cur := &tokensv1.DatabaseToken{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), cur)).To(Succeed())
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Permissions = []tokensv1.DatabasePermission{{Databases: []tokensv1.DatabaseName{tokensv1.DatabaseName(db)}, Actions: []tokensv1.Action{tokensv1.ActionRead}}}
	g.Expect(k8s.Patch(context.Background(), cur, patch)).To(Succeed())
}

// waitRevision waits until the resource's current token has the given revision.
func waitRevision(t *testing.T, obj client.Object, rev int64) *tokensv1.TokenStatus {
	t.Helper()
	var st *tokensv1.TokenStatus
	NewWithT(t).Eventually(func(g Gomega) {
		st = databaseTokenKind.status(fresh(g, databaseTokenKind, obj))
		g.Expect(st.Current).NotTo(BeNil())
		g.Expect(st.Current.Revision).To(BeNumerically(">=", rev))
		g.Expect(st.Pending).To(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return st
}

// Rotation with the real engine: at every moment the Secret's token is accepted; each
// predecessor is rejected once its own expiry has passed, and was revoked by the operator.
func TestRotationKeepsTheSecretValidAtEveryMoment(t *testing.T) {
	g := NewWithT(t)
	ns, inst := withRealEngine(t)
	obj := databaseTokenKind.new("rotating", ns, testutil.ExpiresAfter("8s"), withRotation("5s", ""))
	first := databaseTokenKind.status(createReady(t, databaseTokenKind, obj)).Current
	g.Expect(first.RenewAt).NotTo(BeNil())
	g.Expect(first.ExpiresAt.Sub(first.RenewAt.Time)).To(BeNumerically("~", 5*time.Second, time.Second))

	authorize := inst.URL + "/api/v3/authorize?db=telemetry&action=write"
	tokens := map[string]bool{}
	var firstTok string
	deadline := time.Now().Add(13 * time.Second)
	for time.Now().Before(deadline) {
		sec := secret(g, ns, "rotating")
		tok := string(sec.Data[tokensv1.TokenSecretKey])
		if firstTok == "" {
			firstTok = tok
		}
		tokens[tok] = true
		g.Expect(engineStatus(t, authorize, tok)).To(Equal(http.StatusNoContent),
			"the Secret's token (revision %s) must be accepted at every moment", sec.Annotations[tokensv1.RevisionAnnotation])
		time.Sleep(100 * time.Millisecond)
	}
	g.Expect(len(tokens)).To(BeNumerically(">=", 3), "two renewals in 13 s of 8 s tokens renewed 5 s early")
	g.Expect(engineStatus(t, authorize, firstTok)).To(Equal(http.StatusUnauthorized))
	_, err := adminClient(t, inst).Lookup(context.Background(), first.TokenName)
	g.Expect(engine.IsNotFound(err)).To(BeTrue(), "the predecessor is revoked at its expiry, not left to expire: %v", err)
	g.Eventually(func() []string { return eventReasons(t, ns, "rotating") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonRenewed))
	assertNoPlaintext(t, ns)
}

// A permission change mints a successor, swaps the Secret, keeps the predecessor through the
// overlap (recorded in status.previous) and revokes it afterwards; a manager restart in the
// middle of the overlap still revokes it on time.
func TestSpecChangeSuccessorAndOverlapAcrossRestart(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	mgr := startManagerWith(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	obj := databaseTokenKind.new("changing", ns, withRotation("", "4s"))
	createReady(t, databaseTokenKind, obj)
	oldTok := secretToken(g, ns, "changing")

	setPermissions(g, obj, "logs")
	st := waitRevision(t, obj, 2)
	newTok := secretToken(g, ns, "changing")
	g.Expect(newTok).NotTo(Equal(oldTok))
	g.Expect(fe.Allows(newTok, engine.ResourceDatabase, "logs", engine.ActionRead)).To(BeTrue())
	g.Expect(fe.Allows(newTok, engine.ResourceDatabase, "telemetry", engine.ActionWrite)).To(BeFalse())
	g.Expect(st.Permissions).To(Equal("db:logs:read"))
	g.Expect(st.Current.Permissions).To(Equal("db:logs:read"))
	g.Expect(st.Previous).To(HaveLen(1))
	revokeAt := st.Previous[0].RevokeAt.Time
	g.Expect(fe.Accepts(oldTok)).To(BeTrue(), "the predecessor stays valid through the overlap")
	// Events are sent asynchronously: see this one before stopping the manager that emits it.
	g.Eventually(func() []string { return eventReasons(t, ns, "changing") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonSpecChanged))

	mgr.stop()
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	g.Eventually(func() bool { return fe.Accepts(oldTok) }).WithTimeout(timeout).WithPolling(poll).Should(BeFalse())
	g.Expect(time.Since(revokeAt)).To(BeNumerically("<", 2*time.Second), "revoked at revokeAt, not later")
	g.Expect(time.Now().After(revokeAt.Add(-100*time.Millisecond))).To(BeTrue(), "not before the overlap ended")
	g.Eventually(func(g Gomega) {
		g.Expect(databaseTokenKind.status(fresh(g, databaseTokenKind, obj)).Previous).To(BeEmpty())
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(fe.Accepts(newTok)).To(BeTrue())
	g.Expect(fe.RevokedIDs(st.Previous[0].TokenName)).To(And(Not(BeEmpty()), HaveEach(st.Previous[0].TokenID)),
		"the restarted manager revokes the predecessor by the id status recorded")
}

// Drift: a deleted Secret, a token changed by hand, a token the engine forgot.
func TestDriftRepair(t *testing.T) {
	t.Run("SecretDeleted", func(t *testing.T) {
		g := NewWithT(t)
		ns, fe := withFake(t)
		obj := databaseTokenKind.new("drift", ns, withRotation("", "2s"))
		createReady(t, databaseTokenKind, obj)
		oldTok := secretToken(g, ns, "drift")
		g.Expect(k8s.Delete(context.Background(), secret(g, ns, "drift"))).To(Succeed())

		waitRevision(t, obj, 2)
		g.Eventually(func(g Gomega) {
			g.Expect(fe.Accepts(secretToken(g, ns, "drift"))).To(BeTrue())
		}).WithTimeout(timeout).Should(Succeed())
		g.Expect(fe.Accepts(oldTok)).To(BeTrue(), "a deleted Secret's token may still be mounted: revoked after the overlap")
		g.Eventually(func() bool { return fe.Accepts(oldTok) }).WithTimeout(timeout).Should(BeFalse())
		g.Eventually(func() []string { return eventReasons(t, ns, "drift") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonSecretMissing))
	})

	t.Run("TokenChangedByHand", func(t *testing.T) {
		g := NewWithT(t)
		ns, fe := withFake(t)
		obj := databaseTokenKind.new("exposed", ns, withRotation("", "1h"))
		createReady(t, databaseTokenKind, obj)
		sec := secret(g, ns, "exposed")
		oldTok := string(sec.Data[tokensv1.TokenSecretKey])
		sec.Data[tokensv1.TokenSecretKey] = []byte("pasted-by-hand")
		sec.Data["pasted"] = []byte("x")
		sec.Labels["team"], sec.Annotations["note"] = "a", "kept"
		g.Expect(k8s.Update(context.Background(), sec)).To(Succeed())

		waitRevision(t, obj, 2)
		g.Eventually(func(g Gomega) {
			g.Expect(fe.Accepts(secretToken(g, ns, "exposed"))).To(BeTrue())
		}).WithTimeout(timeout).Should(Succeed())
		// The successor is written as a patch of what the lifecycle changes (its cache holds no
		// labels and only our annotations): others' labels and annotations stay, keys it did not
		// write go, ours are there.
		sec = secret(g, ns, "exposed")
		g.Expect(sec.Labels).To(HaveKeyWithValue("team", "a"))
		g.Expect(sec.Labels).To(HaveKeyWithValue(tokensv1.OwnerUIDLabel, string(obj.GetUID())))
		g.Expect(sec.Annotations).To(HaveKeyWithValue("note", "kept"))
		g.Expect(sec.Annotations).To(HaveKeyWithValue(tokensv1.RevisionAnnotation, "2"))
		g.Expect(sec.Data).NotTo(HaveKey("pasted"))
		g.Expect(fe.Accepts(oldTok)).To(BeFalse(), "an exposed predecessor is revoked at once, whatever the overlap")
		g.Eventually(func() []string { return eventReasons(t, ns, "exposed") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonTokenChanged))
	})

	t.Run("EngineForgotTheToken", func(t *testing.T) {
		g := NewWithT(t)
		ns := newNamespace(t)
		fe := fake.New()
		startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true), VerifyInterval: time.Second})
		obj := databaseTokenKind.new("forgotten", ns)
		st := databaseTokenKind.status(createReady(t, databaseTokenKind, obj))
		g.Expect(fe.Revoke(context.Background(), st.Current.TokenName, "")).To(Succeed()) // as an old backup would

		waitRevision(t, obj, 2)
		g.Eventually(func(g Gomega) {
			g.Expect(fe.Accepts(secretToken(g, ns, "forgotten"))).To(BeTrue())
		}).WithTimeout(timeout).Should(Succeed())
		g.Eventually(func() []string { return eventReasons(t, ns, "forgotten") }).WithTimeout(timeout).Should(ContainElement(tokensv1.ReasonTokenLost))
	})
}

// Workloads named in rolloutRestartTargets get the restart annotation when the token changes;
// a missing target is a condition, not an error loop.
func TestRolloutRestartTargets(t *testing.T) {
	g := NewWithT(t)
	ns, fe := withFake(t)
	// The workload opts in to restarts by this token (docs/security.md).
	dep := testDeployment(ns, "telegraf", map[string]string{tokensv1.RestartOnAnnotation: "restarter"})
	g.Expect(k8s.Create(context.Background(), dep)).To(Succeed())
	obj := databaseTokenKind.new("restarter", ns, withRotation("", "1m"), withRestartTargets(tokensv1.RolloutTarget{Kind: "Deployment", Name: "telegraf"}, tokensv1.RolloutTarget{Kind: "StatefulSet", Name: "missing"}))
	createReady(t, databaseTokenKind, obj)

	setPermissions(g, obj, "logs")
	st := waitRevision(t, obj, 2)
	get(g, dep)
	g.Expect(dep.Spec.Template.Annotations).To(HaveKeyWithValue(tokensv1.RestartedAtAnnotation, st.Current.TokenName))
	c := cond(st, tokensv1.ConditionRolloutRestartFailed)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(c.Reason).To(Equal(tokensv1.ReasonTargetNotFound))
	g.Expect(c.Message).To(ContainSubstring("StatefulSet/missing"))
	g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue), "a missing target does not make the token unready")
	mints := fe.MintCount()
	g.Consistently(fe.MintCount).WithTimeout(2*time.Second).Should(Equal(mints), "no error loop")
}

// A workload that does not name the token in tokens.tokenops.dev/restart-on is never restarted
// by it, whoever wrote rolloutRestartTargets: RolloutRestartFailed=True, TargetNotOptedIn.
func TestRolloutRestartNeedsTheTargetsOptIn(t *testing.T) {
	g := NewWithT(t)
	ns, _ := withFake(t)
	notOptedIn := testDeployment(ns, "payments", nil)
	otherToken := testDeployment(ns, "billing", map[string]string{tokensv1.RestartOnAnnotation: "someone-else"})
	g.Expect(k8s.Create(context.Background(), notOptedIn)).To(Succeed())
	g.Expect(k8s.Create(context.Background(), otherToken)).To(Succeed())
	obj := databaseTokenKind.new("intruder", ns, withRotation("", "1m"), withRestartTargets(tokensv1.RolloutTarget{Kind: "Deployment", Name: "payments"}, tokensv1.RolloutTarget{Kind: "Deployment", Name: "billing"}))
	createReady(t, databaseTokenKind, obj)
	setPermissions(g, obj, "logs")
	st := waitRevision(t, obj, 2)
	for _, d := range []*appsv1.Deployment{notOptedIn, otherToken} {
		get(g, d)
		g.Expect(d.Spec.Template.Annotations).NotTo(HaveKey(tokensv1.RestartedAtAnnotation), "%s was restarted without opting in", d.Name)
	}
	c := cond(st, tokensv1.ConditionRolloutRestartFailed)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(c.Reason).To(Equal(tokensv1.ReasonTargetNotOptedIn), c.Message)
	g.Expect(c.Message).To(And(ContainSubstring("Deployment/payments"), ContainSubstring("Deployment/billing"), ContainSubstring(tokensv1.RestartOnAnnotation+"=intruder")))
	g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
}

// testDeployment is a minimal Deployment (nothing runs it in envtest) with the given annotations.
func testDeployment(ns, name string, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: name + ":1"}}},
			},
		},
	}
}
