package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/testutil"
)

const (
	// timeout bounds every Eventually; generous for a 2-core machine running other tests.
	timeout = 30 * time.Second
	poll    = 50 * time.Millisecond
	// engineURL is what the fake engine reports as its address, for extraKeys templates.
	engineURL = "http://token-engine.test:8181"
)

// tokenKind lets one test body run for both token kinds: the rules of issue 6 hold for both.
type tokenKind struct {
	name   string
	new    func(name, ns string, opts ...testutil.Option) client.Object
	empty  func() client.Object
	status func(client.Object) *tokensv1.TokenStatus
}

var (
	databaseTokenKind = tokenKind{
		name: "DatabaseToken",
		new: func(name, ns string, opts ...testutil.Option) client.Object {
			return testutil.DatabaseToken(name, append([]testutil.Option{testutil.InNamespace(ns)}, opts...)...)
		},
		empty:  func() client.Object { return &tokensv1.DatabaseToken{} },
		status: func(o client.Object) *tokensv1.TokenStatus { return &o.(*tokensv1.DatabaseToken).Status.TokenStatus },
	}
	systemTokenKind = tokenKind{
		name: "SystemToken",
		new: func(name, ns string, opts ...testutil.Option) client.Object {
			return testutil.SystemToken(name, []tokensv1.SystemResource{"metrics"}, append([]testutil.Option{testutil.InNamespace(ns)}, opts...)...)
		},
		empty:  func() client.Object { return &tokensv1.SystemToken{} },
		status: func(o client.Object) *tokensv1.TokenStatus { return &o.(*tokensv1.SystemToken).Status.TokenStatus },
	}
	bothKinds = []tokenKind{databaseTokenKind, systemTokenKind}
)

// fakeEngine is a fake engine the token reconcilers resolve every reference to.
func fakeResolver(fe *fake.Engine, systemTokens bool) *engineref.Static {
	return &engineref.Static{Resolved: engineref.Resolved{
		Engine: recording{fe}, Kind: tokensv1.ClusterTokenEngineKind, Name: "fake", Description: enginefactory.Description{Type: "influxdb3", WorkloadURL: engineURL, SupportsSystemTokens: systemTokens},
	}}
}

// withFake starts a namespace, a fake engine and a manager resolving to it.
func withFake(t *testing.T, opts ...fake.Option) (string, *fake.Engine) {
	t.Helper()
	ns := newNamespace(t)
	fe := fake.New(opts...)
	startManager(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	return ns, fe
}

// get reads obj's latest state into obj.
func get(g Gomega, obj client.Object) {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
}

// fresh reads the object of kind k named like obj.
func fresh(g Gomega, k tokenKind, obj client.Object) client.Object {
	o := k.empty()
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), o)).To(Succeed())
	return o
}

// cond returns the condition of type typ, or an empty one.
func cond(st *tokensv1.TokenStatus, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(st.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// secret reads the Secret ns/name; nil when it does not exist.
func secret(g Gomega, ns, name string) *corev1.Secret {
	s := &corev1.Secret{}
	err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	g.Expect(err).NotTo(HaveOccurred())
	return s
}

// secretToken is the token in Secret ns/name.
func secretToken(g Gomega, ns, name string) string {
	return string(secret(g, ns, name).Data[tokensv1.TokenSecretKey])
}

// waitReady waits until obj is Ready with a current token and returns its fresh state.
func waitReady(t *testing.T, k tokenKind, obj client.Object) client.Object {
	t.Helper()
	var out client.Object
	NewWithT(t).Eventually(func(g Gomega) {
		out = fresh(g, k, obj)
		st := k.status(out)
		g.Expect(cond(st, tokensv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue), "Ready: %+v", st.Conditions)
		g.Expect(st.Current).NotTo(BeNil())
		g.Expect(st.Pending).To(BeNil())
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return out
}

// createReady creates obj and waits until it is Ready (waitReady).
func createReady(t *testing.T, k tokenKind, obj client.Object) client.Object {
	t.Helper()
	NewWithT(t).Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	return waitReady(t, k, obj)
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
	}).WithTimeout(timeout).WithPolling(poll).Should(BeTrue(), "%s was not deleted", obj.GetName())
}

// liveWithPrefix lists the fake engine's live tokens of one resource.
func liveWithPrefix(fe *fake.Engine, obj client.Object) []engine.TokenInfo {
	prefix := "k8s." + obj.GetNamespace() + "." + obj.GetName() + "."
	var out []engine.TokenInfo
	for _, ti := range fe.Live() {
		if strings.HasPrefix(ti.Name, prefix) {
			out = append(out, ti)
		}
	}
	return out
}

// annotate sets an annotation on obj (which must be freshly read).
func annotate(g Gomega, obj client.Object, k, v string) {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	obj.SetAnnotations(a)
	g.Expect(k8s.Patch(context.Background(), obj, patch)).To(Succeed())
}
