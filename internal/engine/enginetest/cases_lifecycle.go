package enginetest

import (
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
)

func testCheck(t *testing.T, s *suite) {
	if err := s.Engine.Check(s.ctx()); err != nil {
		s.checkError(err)
		t.Fatalf("Check on a healthy engine: %v", err)
	}
}

// testLifecycle: mint → lookup → revoke → revoke again → lookup says gone.
func testLifecycle(t *testing.T, s *suite) {
	name := s.name("lifecycle")
	m := s.mint(readDB(name))
	if m.ExpiresAt != nil {
		t.Errorf("Mint without TTL: ExpiresAt = %v, want nil (never)", m.ExpiresAt)
	}
	s.wantAuthorized(m.Token, true, probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead})

	info, err := s.lookup(name)
	if err != nil {
		t.Fatalf("Lookup after Mint: %v", err)
	}
	if info.Name != name || info.ID != m.ID {
		t.Errorf("Lookup = {Name %q, ID %q}, want {%q, %q}", info.Name, info.ID, name, m.ID)
	}
	if info.ExpiresAt != nil {
		t.Errorf("Lookup of a token without TTL: ExpiresAt = %v, want nil", info.ExpiresAt)
	}

	s.revoke(name)
	s.wantAuthorized(m.Token, false, probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead})
	s.revoke(name) // idempotent
	_, err = s.lookup(name)
	s.wantKind("Lookup after Revoke", err, engine.NotFound)
	_, err = s.lookup(s.name("never-minted"))
	s.wantKind("Lookup of a name never minted", err, engine.NotFound)
	s.revoke(s.name("never-minted"))
}

// testRevokeByID: a Revoke given the id status recorded, by a client that remembers nothing (a
// restarted manager), deletes the name's token; given another name's id (a status someone
// edited), it deletes the name's token and leaves the other alone; given an id already gone, it
// succeeds (engine.Engine.Revoke).
func testRevokeByID(t *testing.T, s *suite) {
	a, b, c := s.mint(readDB(s.name("byid-a"))), s.mint(readDB(s.name("byid-b"))), s.mint(readDB(s.name("byid-c")))
	read := probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead}

	if err := s.restarted().Revoke(s.ctx(), a.Name, a.ID); err != nil {
		s.checkError(err)
		t.Fatalf("Revoke(%q, its id) after a restart: %v", a.Name, err)
	}
	s.wantAuthorized(a.Token, false, read)
	_, err := s.lookup(a.Name)
	s.wantKind("Lookup after a Revoke by id", err, engine.NotFound)

	if err := s.restarted().Revoke(s.ctx(), c.Name, b.ID); err != nil {
		s.checkError(err)
		t.Fatalf("Revoke(%q, the id of %q): %v", c.Name, b.Name, err)
	}
	s.wantAuthorized(c.Token, false, read)
	s.wantAuthorized(b.Token, true, read)
	if info, err := s.lookup(b.Name); err != nil || info.ID != b.ID {
		t.Errorf("Revoke of another name given %q's id: Lookup(%q) = %+v, %v; want it live with id %q", b.Name, b.Name, info, err, b.ID)
	}

	if err := s.restarted().Revoke(s.ctx(), a.Name, a.ID); err != nil {
		s.checkError(err)
		t.Errorf("Revoke(%q, an id already revoked): %v, want success", a.Name, err)
	}
}

// testDuplicate: a second mint of a live name is a Conflict and leaves the first token alone.
func testDuplicate(t *testing.T, s *suite) {
	name := s.name("duplicate")
	first := s.mint(readDB(name))
	_, err := s.tryMint(readDB(name))
	s.wantKind("second Mint of the same name", err, engine.Conflict)

	info, err := s.lookup(name)
	if err != nil {
		t.Fatalf("Lookup after the conflicting Mint: %v", err)
	}
	if info.ID != first.ID {
		t.Errorf("the conflicting Mint replaced the token: ID %q, want %q", info.ID, first.ID)
	}
	s.wantAuthorized(first.Token, true, probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead})

	// The crash-recovery path of docs/design.md §3: revoke the name, then mint again.
	s.revoke(name)
	second := s.mint(readDB(name))
	s.wantAuthorized(first.Token, false, probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead})
	s.wantAuthorized(second.Token, true, probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead})
}

// testConcurrentMints: of several simultaneous mints of one name exactly one succeeds.
func testConcurrentMints(t *testing.T, s *suite) {
	const n = 6
	engines := make([]engine.Engine, n)
	for i := range engines {
		engines[i] = s.Engine
	}
	successes, errs := MintConcurrently(s.ctx(), readDB(s.name("race")), engines...)
	if successes != 1 {
		t.Errorf("%d concurrent mints of one name: %d succeeded, want 1", n, successes)
	}
	for _, err := range errs {
		s.wantKind("concurrent Mint of the same name", err, engine.Conflict)
	}
}
