// Package storetest is the contract suite every tokenengine.Store passes: the bbolt file and the
// Kubernetes store (docs/token-engine.md, "Stores").
//
//	storetest.Run(t, storetest.Factory{New: func(t *testing.T) tokenengine.Store { … }})
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
)

// Factory makes the stores under test.
type Factory struct {
	// New returns an empty store; the suite closes it.
	New func(t *testing.T) tokenengine.Store
	// Peer returns another store over the same data as s (another replica); nil skips the
	// replica cases.
	Peer func(t *testing.T, s tokenengine.Store) tokenengine.Store
	// Reopen closes s and opens its data again (a restart); nil skips that case.
	Reopen func(t *testing.T, s tokenengine.Store) tokenengine.Store
}

// Propagation bounds how long a peer may take to see a write in the suite (a correctness bound,
// not a speed target: test/engineha measures propagation).
const Propagation = 10 * time.Second

// Run runs the contract.
func Run(t *testing.T, f Factory) {
	t.Run("CreateIsVisibleAtOnce", func(t *testing.T) {
		s := open(t, f)
		a, b := rec("a"), rec("b")
		must(t, s.Create(a))
		must(t, s.Create(b))
		if a.ID == b.ID {
			t.Fatalf("two tokens got id %d", a.ID)
		}
		for _, r := range []*tokenengine.Record{a, b} {
			same(t, s.ByName(r.Name), r)
			same(t, s.ByDigest(r.Digest), r)
		}
		if n := len(s.List()); n != 2 {
			t.Fatalf("List has %d records, want 2", n)
		}
		if s.ByName("c") != nil || s.ByDigest(digest("c")) != nil {
			t.Fatal("an unknown token was found")
		}
		must(t, s.Ready())
	})
	t.Run("FieldsRoundTrip", func(t *testing.T) {
		s := open(t, f)
		r := rec("full/name with space")
		exp := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
		upd := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
		by, upBy := uint64(7), uint64(9)
		r.Expiry, r.UpdatedAt, r.CreatedByTokenID, r.UpdatedByTokenID = &exp, &upd, &by, &upBy
		r.Permissions = []tokenengine.Permission{{ResourceType: "db", Names: []string{"a", "b"}, Actions: []string{"read", "write"}},
			{ResourceType: "system", Names: []string{"*"}, Actions: []string{"read"}}}
		must(t, s.Create(r))
		same(t, s.ByName(r.Name), r)
		if f.Reopen != nil {
			s = f.Reopen(t, s)
			same(t, s.ByName(r.Name), r)
		}
		admin := rec("ops")
		admin.Admin, admin.Permissions = true, nil
		must(t, s.Create(admin))
		same(t, s.ByDigest(admin.Digest), admin)
	})
	t.Run("DuplicateNameIsRefused", func(t *testing.T) {
		s := open(t, f)
		a := rec("dup")
		must(t, s.Create(a))
		b := rec("dup")
		if err := s.Create(b); !errors.Is(err, tokenengine.ErrNameExists) {
			t.Fatalf("second create: %v, want ErrNameExists", err)
		}
		same(t, s.ByName("dup"), a)
		if s.ByDigest(b.Digest) != nil {
			t.Fatal("the refused token's digest was indexed")
		}
	})
	t.Run("UpdateSwapsDigestWithPrecondition", func(t *testing.T) {
		s := open(t, f)
		must(t, s.Create(rec("_admin")))
		old := s.ByName("_admin")
		n := *old
		n.Digest = digest("new")
		must(t, s.Update(old, &n))
		if s.ByDigest(old.Digest) != nil {
			t.Fatal("the replaced digest still authenticates")
		}
		same(t, s.ByDigest(n.Digest), &n)
		if got := s.ByName("_admin"); got.ID != old.ID {
			t.Fatalf("update changed the id from %d to %d", old.ID, got.ID)
		}
		stale := n
		stale.Digest = digest("stale")
		if err := s.Update(old, &stale); !errors.Is(err, tokenengine.ErrConflict) {
			t.Fatalf("update from a stale record: %v, want ErrConflict", err)
		}
		if s.ByDigest(stale.Digest) != nil {
			t.Fatal("a refused update was indexed")
		}
		ghost := rec("ghost")
		if err := s.Update(ghost, ghost); !errors.Is(err, tokenengine.ErrNotFound) {
			t.Fatalf("update of a missing token: %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteIsVisibleAtOnceAndIdempotent", func(t *testing.T) {
		s := open(t, f)
		a, b, c := rec("a"), rec("b"), rec("c")
		for _, r := range []*tokenengine.Record{a, b, c} {
			must(t, s.Create(r))
		}
		ra, rb := s.ByName("a"), s.ByName("b")
		must(t, s.Delete(ra, rb))
		for _, r := range []*tokenengine.Record{a, b} {
			if s.ByName(r.Name) != nil || s.ByDigest(r.Digest) != nil {
				t.Fatalf("deleted token %q is still found", r.Name)
			}
		}
		same(t, s.ByName("c"), c)
		must(t, s.Delete(ra))
		if err := s.DeleteName("a"); !errors.Is(err, tokenengine.ErrNotFound) {
			t.Fatalf("DeleteName of a deleted token: %v, want ErrNotFound", err)
		}
		must(t, s.DeleteName("c"))
		if s.ByName("c") != nil || s.ByDigest(c.Digest) != nil {
			t.Fatal("DeleteName left the token readable")
		}
		// The name is free again.
		must(t, s.Create(rec("a")))
		if f.Reopen != nil {
			s = f.Reopen(t, s)
			if s.ByName("b") != nil || s.ByName("a") == nil || s.ByName("c") != nil {
				t.Fatalf("after reopen: %v", names(s))
			}
		}
	})
	if f.Peer == nil {
		return
	}
	t.Run("PeersSeeWritesAndRevocations", func(t *testing.T) {
		a := open(t, f)
		b := f.Peer(t, a)
		r := rec("shared")
		must(t, a.Create(r))
		eventually(t, func() bool { return b.ByDigest(r.Digest) != nil })
		same(t, b.ByName("shared"), r)
		must(t, b.Delete(b.ByName("shared")))
		eventually(t, func() bool { return a.ByDigest(r.Digest) == nil && a.ByName("shared") == nil })
		// A revoke through the peer right after the mint works even before its watch saw the
		// token: never a 404 for a live token.
		y := rec("y")
		must(t, a.Create(y))
		must(t, b.DeleteName("y"))
		eventually(t, func() bool { return a.ByDigest(y.Digest) == nil && b.ByDigest(y.Digest) == nil })
		if err := b.DeleteName("y"); !errors.Is(err, tokenengine.ErrNotFound) {
			t.Fatalf("second DeleteName: %v, want ErrNotFound", err)
		}
		// A name taken on one peer is refused on the other, even before its watch saw it.
		must(t, a.Create(rec("x")))
		if err := b.Create(rec("x")); !errors.Is(err, tokenengine.ErrNameExists) {
			t.Fatalf("create of a name the peer holds: %v, want ErrNameExists", err)
		}
	})
	t.Run("ConcurrentCreatesOfOneNameOnPeers", func(t *testing.T) {
		a := open(t, f)
		b := f.Peer(t, a)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() { errs[i] = s.Create(rec("race")) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, tokenengine.ErrNameExists):
				t.Fatalf("create: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creates of one name succeeded, want exactly 1", ok)
		}
		eventually(t, func() bool {
			return a.ByName("race") != nil && b.ByName("race") != nil && a.ByName("race").Digest == b.ByName("race").Digest
		})
	})
	t.Run("UpdateConflictsAcrossPeers", func(t *testing.T) {
		a := open(t, f)
		b := f.Peer(t, a)
		must(t, a.Create(rec("_admin")))
		eventually(t, func() bool { return b.ByName("_admin") != nil })
		oldA, oldB := a.ByName("_admin"), b.ByName("_admin")
		na, nb := *oldA, *oldB
		na.Digest, nb.Digest = digest("from-a"), digest("from-b")
		must(t, a.Update(oldA, &na))
		if err := b.Update(oldB, &nb); err != nil && !errors.Is(err, tokenengine.ErrConflict) {
			t.Fatalf("stale update on the peer: %v, want nil (if it had seen the first) or ErrConflict", err)
		} else if err == nil {
			t.Fatal("the peer's update from a stale record succeeded: last-writer-wins without a precondition")
		}
		eventually(t, func() bool { return b.ByDigest(na.Digest) != nil && b.ByDigest(oldB.Digest) == nil })
	})
}

func open(t *testing.T, f Factory) tokenengine.Store {
	t.Helper()
	return f.New(t)
}

var seq int

// rec is a resource token called name with a fresh digest.
func rec(name string) *tokenengine.Record {
	seq++
	return &tokenengine.Record{Name: name, Digest: digest(fmt.Sprintf("%s-%d-%d", name, seq, time.Now().UnixNano())),
		CreatedAt:   time.Now().UTC().Truncate(time.Millisecond),
		Permissions: []tokenengine.Permission{{ResourceType: "db", Names: []string{"db1"}, Actions: []string{"read"}}}}
}

func digest(s string) tokenengine.Digest { return tokenengine.DigestOf(tokenengine.TokenPrefix + s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// same fails unless got holds what want holds (ids and times included).
func same(t *testing.T, got, want *tokenengine.Record) {
	t.Helper()
	if got == nil {
		t.Fatalf("token %q not found", want.Name)
	}
	eqT := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	eqU := func(a, b *uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqP := slices.EqualFunc(got.Permissions, want.Permissions, func(a, b tokenengine.Permission) bool {
		return a.ResourceType == b.ResourceType && slices.Equal(a.Names, b.Names) && slices.Equal(a.Actions, b.Actions)
	})
	if got.ID != want.ID || got.Name != want.Name || got.Digest != want.Digest || got.Admin != want.Admin || !eqP ||
		!got.CreatedAt.Equal(want.CreatedAt) || !eqT(got.Expiry, want.Expiry) || !eqT(got.UpdatedAt, want.UpdatedAt) ||
		!eqU(got.CreatedByTokenID, want.CreatedByTokenID) || !eqU(got.UpdatedByTokenID, want.UpdatedByTokenID) {
		t.Fatalf("stored token differs:\n got %+v\nwant %+v", got, want)
	}
}

func names(s tokenengine.Store) []string {
	var out []string
	for _, r := range s.List() {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(Propagation)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not seen within %s", Propagation)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
