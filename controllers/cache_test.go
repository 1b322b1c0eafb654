package controllers_test

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// TestStripUnread: the cache keeps neither managedFields nor kubectl's last-applied copy of a
// token or engine, nor a token's recorded intent; a Secret keeps its annotations (the lifecycle
// updates Secrets whole).
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
		{"Secret", &corev1.Secret{ObjectMeta: applied()}, applied().Annotations},
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
