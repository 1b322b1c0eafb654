package enginetest

import (
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
)

// calls runs every Engine operation against e and returns their errors by operation name.
func (s *suite) calls(e engine.Engine) map[string]error {
	name := s.name("failure")
	_, mintErr := e.Mint(s.ctx(), readDB(name))
	_, lookupErr := e.Lookup(s.ctx(), name)
	_, listErr := e.List(s.ctx(), s.prefix)
	return map[string]error{
		"Check":  e.Check(s.ctx()),
		"Mint":   mintErr,
		"Revoke": e.Revoke(s.ctx(), name, ""),
		"Lookup": lookupErr,
		"List":   listErr,
	}
}

// testUnreachable: every operation on an engine nobody answers for is Transient: never success
// (a Revoke that did nothing), never NotFound (a token that may exist), never Permanent.
func testUnreachable(t *testing.T, s *suite) {
	if s.Unreachable == nil {
		t.Fatal("Harness.Unreachable is required")
	}
	for op, err := range s.calls(s.Unreachable(t)) {
		s.wantKind(op+" on an unreachable engine", err, engine.Transient)
	}
}

// testWrongCredentials: every operation with refused credentials is Unauthorized.
func testWrongCredentials(t *testing.T, s *suite) {
	if s.WrongCredentials == nil {
		t.Fatal("Harness.WrongCredentials is required")
	}
	for op, err := range s.calls(s.WrongCredentials(t)) {
		s.wantKind(op+" with wrong credentials", err, engine.Unauthorized)
	}
}
