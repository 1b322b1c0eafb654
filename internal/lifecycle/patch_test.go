package lifecycle

import (
	"context"
	"encoding/json"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
)

func TestMetadataPatch(t *testing.T) {
	meta := func(finalizers []string, ann map[string]string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{ResourceVersion: "7", Finalizers: finalizers, Annotations: ann}
	}
	for _, tc := range []struct {
		name          string
		before, after *metav1.ObjectMeta
		want          string
	}{
		{"nothing changed", meta(nil, map[string]string{"a": "1"}), meta(nil, map[string]string{"a": "1"}),
			`{"metadata":{"resourceVersion":"7"}}`},
		{"finalizer and intent", meta(nil, nil), meta([]string{tokensv1.Finalizer}, map[string]string{tokensv1.PendingMintAnnotation: "{}"}),
			`{"metadata":{"annotations":{"tokens.tokenops.dev/pending-mint":"{}"},"finalizers":["tokens.tokenops.dev/revoke"],"resourceVersion":"7"}}`},
		{"the others' annotations are not sent", meta(nil, map[string]string{"a": "1", "b": "2"}), meta(nil, map[string]string{"a": "1", "b": "3"}),
			`{"metadata":{"annotations":{"b":"3"},"resourceVersion":"7"}}`},
		{"a removed annotation is nulled", meta(nil, map[string]string{"a": "1", "b": "2"}), meta(nil, map[string]string{"a": "1"}),
			`{"metadata":{"annotations":{"b":null},"resourceVersion":"7"}}`},
		{"the last finalizer goes", meta([]string{tokensv1.Finalizer}, nil), meta(nil, nil),
			`{"metadata":{"finalizers":null,"resourceVersion":"7"}}`},
		{"finalizers are sent whole", meta([]string{"x"}, nil), meta([]string{"x", tokensv1.Finalizer}, nil),
			`{"metadata":{"finalizers":["x","tokens.tokenops.dev/revoke"],"resourceVersion":"7"}}`},
	} {
		got, err := metadataPatch(tc.before, tc.after)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestPatchesOnTheAPIServer: both patches write what they say on the real API server, leave what
// they do not name, and fail with a Conflict when the resource changed since the pass read it
// (docs/design.md §3: two workers never both act on one read).
func TestPatchesOnTheAPIServer(t *testing.T) {
	cfg, _ := testenv.Start(t, true)
	c := testenv.Client(t, cfg)
	ctx := context.Background()
	d := testutil.DatabaseToken("p", testutil.InNamespace("default"))
	d.Annotations = map[string]string{"kept": "yes"}
	if err := c.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	read := d.DeepCopy()

	// Metadata: the finalizer and the intent in one write; "kept" stays.
	after := read.DeepCopy()
	after.Finalizers = []string{tokensv1.Finalizer}
	after.Annotations = map[string]string{tokensv1.PendingMintAnnotation: `{"revision":1}`} // the cache dropped "kept"
	delete(read.Annotations, "kept")
	patch, err := metadataPatch(read, after)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Patch(ctx, after, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	if after.Annotations["kept"] != "yes" || after.Annotations[tokensv1.PendingMintAnnotation] == "" || len(after.Finalizers) != 1 {
		t.Fatalf("after the metadata patch: annotations %v, finalizers %v", after.Annotations, after.Finalizers)
	}
	if err := c.Patch(ctx, after.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); !apierrors.IsConflict(err) {
		t.Fatalf("the same metadata patch again (stale resourceVersion): %v, want a Conflict", err)
	}

	// Status: replaced whole, so a field the pass dropped goes.
	st := tokensv1.TokenStatus{Revision: 1, Pending: &tokensv1.PendingMint{Revision: 1, TokenName: "n"}, SecretName: "p"}
	write := func(rv string, st tokensv1.TokenStatus) (*tokensv1.DatabaseToken, error) {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		p, err := statusPatch(rv, b)
		if err != nil {
			t.Fatal(err)
		}
		o := after.DeepCopy()
		return o, c.Status().Patch(ctx, o, client.RawPatch(types.JSONPatchType, p))
	}
	o, err := write(after.ResourceVersion, st)
	if err != nil || o.Status.Pending == nil || o.Status.SecretName != "p" {
		t.Fatalf("first status write: %v, status %+v", err, o.Status)
	}
	st.Pending, st.Current = nil, &tokensv1.TokenRecord{TokenName: "n", Revision: 1}
	if _, err := write(after.ResourceVersion, st); !apierrors.IsConflict(err) {
		t.Fatalf("status write with a stale resourceVersion: %v, want a Conflict", err)
	}
	o, err = write(o.ResourceVersion, st)
	if err != nil || o.Status.Pending != nil || o.Status.Current == nil || o.Annotations["kept"] != "yes" {
		t.Fatalf("second status write: %v, status %+v, annotations %v", err, o.Status, o.Annotations)
	}
}
