package lifecycle

import (
	"context"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
)

// TestMemoryGoesWithTheResource: what the reconciler remembers per resource goes when a pass
// finds the resource gone, also when it was deleted without its finalizer running (taken off by
// hand), and a resource created again under the name does not inherit it.
func TestMemoryGoesWithTheResource(t *testing.T) {
	cfg, _ := testenv.Start(t, true)
	c := testenv.Client(t, cfg)
	ctx := context.Background()
	r := &Reconciler[*tokensv1.DatabaseToken]{Client: c, Kind: TokenKind[*tokensv1.DatabaseToken]{
		Name: "DatabaseToken", New: func() *tokensv1.DatabaseToken { return &tokensv1.DatabaseToken{} }}}
	remember := func(d *tokensv1.DatabaseToken) {
		r.verified.store(d, time.Unix(1, 0))
		r.recorded.store(d, recordedCurrent{name: "t-" + d.Name, at: time.Unix(2, 0)})
		r.revoked.store(d, "t-"+d.Name)
	}
	entries := func() [3]int { return [3]int{r.verified.len(), r.recorded.len(), r.revoked.len()} }

	gone, kept := testutil.DatabaseToken("gone", testutil.InNamespace("default")), testutil.DatabaseToken("kept", testutil.InNamespace("default"))
	for _, d := range []*tokensv1.DatabaseToken{gone, kept} {
		if err := c.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		remember(d)
	}
	if got := entries(); got != [3]int{2, 2, 2} {
		t.Fatalf("entries before: %v", got)
	}
	if err := c.Delete(ctx, gone.DeepCopy()); err != nil { // no finalizer: gone at once
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(gone)}); err != nil {
		t.Fatalf("a pass over a deleted resource: %v", err)
	}
	if got := entries(); got != [3]int{1, 1, 1} {
		t.Fatalf("entries after the pass over the deleted resource: %v, want only the live one's", got)
	}
	if at, ok := r.verified.load(kept); !ok || !at.Equal(time.Unix(1, 0)) {
		t.Fatalf("the live resource's entry: %v, %v", at, ok)
	}

	// The name again, another resource: what was remembered for the old one does not apply.
	again := testutil.DatabaseToken("kept", testutil.InNamespace("default"))
	again.UID = "another"
	if _, ok := r.revoked.load(again); ok {
		t.Fatal("a resource of another UID under the name loaded the old one's entry")
	}
	// Forgetting a value another pass has replaced leaves the replacement.
	r.revoked.forgetIf(kept, "an older token")
	if v, ok := r.revoked.load(kept); !ok || v != "t-kept" {
		t.Fatalf("after forgetIf with a value not held: %q, %v", v, ok)
	}
	r.revoked.forgetIf(kept, "t-kept")
	if _, ok := r.revoked.load(kept); ok {
		t.Fatal("forgetIf with the value held left it")
	}
}

// len counts the entries.
func (p *perResource[V]) len() int {
	n := 0
	p.m.Range(func(any, any) bool { n++; return true })
	return n
}
