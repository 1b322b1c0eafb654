package controllers_test

import (
	"maps"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// TestStripUnread: the cache keeps neither managedFields nor kubectl's last-applied copy of a
// token or engine, nor a token's recorded intent; a Secret keeps only the annotations the
// lifecycle reads (it patches Secrets).
func TestStripUnread(t *testing.T) {
	applied := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "a", Namespace: "n",
			Annotations:   map[string]string{controllers.LastAppliedAnnotation: `{"spec":{}}`, tokensv1.RenewAnnotation: "1"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	}
	for _, tc := range []struct {
		name string
		obj  metav1.Object
		want map[string]string
	}{
		{"DatabaseToken", &tokensv1.DatabaseToken{ObjectMeta: applied()}, map[string]string{tokensv1.RenewAnnotation: "1"}},
		{"ClusterTokenEngine", &tokensv1.ClusterTokenEngine{ObjectMeta: applied()}, map[string]string{tokensv1.RenewAnnotation: "1"}},
		{"Secret", &corev1.Secret{ObjectMeta: applied()}, nil},
		{"no annotations", &tokensv1.SystemToken{}, nil},
	} {
		out, err := controllers.StripUnread(tc.obj)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		o := out.(metav1.Object)
		if o.GetManagedFields() != nil {
			t.Errorf("%s: managedFields kept", tc.name)
		}
		if !maps.Equal(o.GetAnnotations(), tc.want) {
			t.Errorf("%s: annotations %v, want %v", tc.name, o.GetAnnotations(), tc.want)
		}
	}
	// A first mint's intent stays while it stands for status.pending, and goes once status
	// recorded it (docs/design.md §3 step 2).
	intent := func(st tokensv1.TokenStatus) *tokensv1.DatabaseToken {
		d := &tokensv1.DatabaseToken{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", UID: "0a1b2c3d-0000"}, Status: tokensv1.DatabaseTokenStatus{TokenStatus: st}}
		d.Annotations = map[string]string{tokensv1.PendingMintAnnotation: `{"revision":1,"tokenName":"` +
			lifecycle.TokenName("n", "a", d.UID, 1) + `","startedAt":"2026-11-30T00:00:00Z"}`}
		return d
	}
	for _, tc := range []struct {
		name string
		st   tokensv1.TokenStatus
		kept bool
	}{
		{"intent not recorded yet", tokensv1.TokenStatus{}, true},
		{"intent recorded", tokensv1.TokenStatus{Revision: 1, Current: &tokensv1.TokenRecord{TokenName: "x"}}, false},
	} {
		out, err := controllers.StripUnread(intent(tc.st))
		if err != nil {
			t.Fatal(err)
		}
		if _, kept := out.(metav1.Object).GetAnnotations()[tokensv1.PendingMintAnnotation]; kept != tc.kept {
			t.Errorf("%s: intent annotation kept = %v, want %v", tc.name, kept, tc.kept)
		}
	}
	if out, err := controllers.StripUnread("not an object"); err != nil || out != "not an object" {
		t.Errorf("non-object: %v, %v", out, err)
	}
}

// TestCompaction: what the cache holds of a token is equal to what the API server sent (less what
// StripUnread drops), and the strings tokens share are one copy; of our Secrets it holds the
// data, the owner and our annotations, and no labels.
func TestCompaction(t *testing.T) {
	tok := func(name string) *tokensv1.DatabaseToken {
		at := metav1.NewTime(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
		engine := &tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: "prod", UID: "e-uid"}
		rec := tokensv1.TokenRecord{TokenName: "k8s.n." + name + ".r2", Revision: 2, MintedAt: &at, ExpiresAt: &at,
			Fingerprint: "fp-" + name, Permissions: "db:telemetry:read,write", ExpiresAfter: "720h", Engine: engine.DeepCopy()}
		d := &tokensv1.DatabaseToken{
			TypeMeta:   metav1.TypeMeta{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "n", UID: types.UID(name + "-uid"), Finalizers: []string{tokensv1.Finalizer}, Labels: map[string]string{"team": "a"}},
			Spec: tokensv1.DatabaseTokenSpec{
				Permissions:     []tokensv1.DatabasePermission{{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{"read", "write"}}},
				TokenCommonSpec: tokensv1.TokenCommonSpec{EngineRef: &tokensv1.EngineReference{Kind: tokensv1.ClusterTokenEngineKind, Name: "prod"}, ExpiresAfter: new(tokensv1.Duration("720h")), DeletionPolicy: tokensv1.DeletionPolicyRevoke},
			},
		}
		st := &d.Status.TokenStatus
		st.Conditions = make([]metav1.Condition, 0, 8) // as a decoder grows it
		st.Conditions = append(st.Conditions,
			metav1.Condition{Type: tokensv1.ConditionReady, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonMinted, Message: "holds " + name, LastTransitionTime: at},
			metav1.Condition{Type: tokensv1.ConditionEngineReachable, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonReachable, Message: "ClusterTokenEngine prod answered", LastTransitionTime: at})
		st.Current, st.Previous = rec.DeepCopy(), []tokensv1.TokenRecord{*rec.DeepCopy()}
		st.Pending = &tokensv1.PendingMint{Revision: 3, TokenName: "k8s.n." + name + ".r3", Permissions: rec.Permissions, Engine: engine.DeepCopy()}
		st.Permissions, st.SecretName, st.Revision = rec.Permissions, name, 3
		return d
	}
	a, b := tok("a"), tok("b")
	for _, d := range []*tokensv1.DatabaseToken{a, b} {
		want := d.DeepCopy()
		if _, err := controllers.StripUnread(d); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(d, want) {
			t.Fatalf("compaction changed the token:\n got %+v\nwant %+v", d, want)
		}
		if cap(d.Status.Conditions) != len(d.Status.Conditions) {
			t.Errorf("conditions: cap %d for %d", cap(d.Status.Conditions), len(d.Status.Conditions))
		}
	}
	same := func(what, x, y string) {
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: two copies of %q", what, x)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("finalizer", a.Finalizers[0], b.Finalizers[0])
	same("database", string(a.Spec.Permissions[0].Databases[0]), string(b.Spec.Permissions[0].Databases[0]))
	same("engine", a.Spec.EngineRef.Name, b.Spec.EngineRef.Name)
	same("permissions", a.Status.Permissions, b.Status.Current.Permissions)
	same("condition reason", a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason)
	same("shared message", a.Status.Conditions[1].Message, b.Status.Conditions[1].Message)
	same("engine uid", string(a.Status.Current.Engine.UID), string(b.Status.Pending.Engine.UID))

	yes := true
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", ResourceVersion: "7",
			Labels:          map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue, tokensv1.OwnerUIDLabel: "a-uid", "team": "a"},
			Annotations:     map[string]string{tokensv1.TokenNameAnnotation: "k8s.n.a.r2", tokensv1.RevisionAnnotation: "2", "note": "x", controllers.LastAppliedAnnotation: "{}"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken", Name: "a", UID: "a-uid", Controller: &yes}}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tokensv1.TokenSecretKey: []byte("t"), "url": []byte("u")},
	}
	want := sec.DeepCopy()
	want.Labels = nil
	want.Annotations = map[string]string{tokensv1.TokenNameAnnotation: "k8s.n.a.r2", tokensv1.RevisionAnnotation: "2"}
	if _, err := controllers.StripUnread(sec); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(sec, want) {
		t.Fatalf("compacted Secret:\n got %+v\nwant %+v", sec, want)
	}
}
