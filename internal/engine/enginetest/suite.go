package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
)

// callTimeout bounds every engine call the suite makes.
const callTimeout = 30 * time.Second

// suite wraps a Harness for one case: unique names, leak checks on every error, cleanup.
type suite struct {
	Harness
	t      *testing.T
	prefix string
	leaks  *secrets
}

// secrets are the minted plaintexts and harness credentials no error may contain.
type secrets struct {
	mu   sync.Mutex
	list []string
}

func (l *secrets) add(s ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, s...)
}

func (l *secrets) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.list...)
}

func newSuite(t *testing.T, h Harness) *suite {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &suite{Harness: h, t: t, prefix: "k8s.contract." + hex.EncodeToString(b) + ".", leaks: &secrets{}}
	s.leaks.add(h.Secrets...)
	if h.Features.RefusesUnknownDatabases && h.CreateDatabase != nil {
		for _, db := range []string{dbTelemetry, dbLogs, dbOther, dbAny} {
			h.CreateDatabase(t, db)
		}
	}
	t.Cleanup(s.revokeAll)
	return s
}

// sub returns the suite for a subtest of s's test; names and secrets are shared.
func (s *suite) sub(t *testing.T) *suite {
	c := *s
	c.t = t
	return &c
}

func (s *suite) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	s.t.Cleanup(cancel)
	return ctx
}

// name returns a token name unique to this case, shaped like docs/design.md §3's.
func (s *suite) name(part string) string { return s.prefix + part + ".r1" }

// mint mints and fails the test on error; the token is revoked at cleanup.
func (s *suite) mint(req engine.MintRequest) engine.Minted {
	s.t.Helper()
	m, err := s.tryMint(req)
	if err != nil {
		s.t.Fatalf("Mint(%q): %v", req.Name, err)
	}
	return m
}

// tryMint mints, remembers the plaintext for leak checks and checks that the result is sane.
func (s *suite) tryMint(req engine.MintRequest) (engine.Minted, error) {
	s.t.Helper()
	m, err := s.Engine.Mint(s.ctx(), req)
	if err != nil {
		s.checkError(err)
		return m, err
	}
	if m.Token.Reveal() == "" {
		s.t.Fatalf("Mint(%q) returned an empty token", req.Name)
	}
	s.leaks.add(m.Token.Reveal())
	for _, v := range m.SecretData {
		// A value equal to the token's name (the 1.x username) is public: errors name tokens.
		if v.Reveal() != m.Name {
			s.leaks.add(v.Reveal())
		}
	}
	if m.Name != req.Name {
		s.t.Errorf("Mint(%q) returned name %q", req.Name, m.Name)
	}
	if m.ID == "" {
		s.t.Errorf("Mint(%q) returned no ID", req.Name)
	}
	if m.CreatedAt.IsZero() {
		s.t.Errorf("Mint(%q) returned no creation time", req.Name)
	}
	if out := fmt.Sprintf("%v %+v %#v %s", m, m, m, m.Token); strings.Contains(out, m.Token.Reveal()) {
		s.t.Errorf("formatting Minted printed the plaintext token")
	}
	return m, nil
}

// checkError fails the test if err's text holds a plaintext token or a harness credential.
func (s *suite) checkError(err error) {
	s.t.Helper()
	if err == nil {
		return
	}
	text := err.Error() + "\n" + fmt.Sprintf("%+v %#v", err, err)
	for _, sec := range s.leaks.all() {
		if sec != "" && strings.Contains(text, sec) {
			s.t.Errorf("error message contains a credential: %q", redactFor(text, sec))
		}
	}
}

func redactFor(text, secret string) string {
	return strings.ReplaceAll(text, secret, "<SECRET>")
}

// wantKind checks err's kind and leak-freedom.
func (s *suite) wantKind(what string, err error, want engine.Kind) {
	s.t.Helper()
	if err == nil {
		s.t.Errorf("%s: got success, want a %s error", what, want)
		return
	}
	s.checkError(err)
	if got := engine.KindOf(err); got != want {
		s.t.Errorf("%s: got a %s error (%v), want %s", what, got, err, want)
	}
}

func (s *suite) lookup(name string) (engine.TokenInfo, error) {
	s.t.Helper()
	info, err := s.Engine.Lookup(s.ctx(), name)
	s.checkError(err)
	return info, err
}

func (s *suite) revoke(name string) {
	s.t.Helper()
	if err := s.Engine.Revoke(s.ctx(), name, ""); err != nil {
		s.checkError(err)
		s.t.Fatalf("Revoke(%q): %v", name, err)
	}
}

// revokeAll removes every token this case left behind, so cases can share an engine.
func (s *suite) revokeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	infos, err := s.Engine.List(ctx, s.prefix)
	if err != nil {
		return
	}
	for _, i := range infos {
		_ = s.Engine.Revoke(ctx, i.Name, i.ID)
	}
}

// restarted is Harness.Restarted, or Engine.
func (s *suite) restarted() engine.Engine {
	if s.Restarted == nil {
		return s.Engine
	}
	return s.Restarted(s.t)
}

func (s *suite) advance(d time.Duration) {
	if s.Advance != nil {
		s.Advance(d)
		return
	}
	time.Sleep(d)
}

// probe is one authorization question asked after minting.
type probe struct {
	rt     engine.ResourceType
	name   string
	action engine.Action
}

func (p probe) String() string { return fmt.Sprintf("%s:%s:%s", p.rt, p.name, p.action) }

// authorize asks the engine whether token grants p; ok is false when the harness cannot tell.
func (s *suite) authorize(token engine.Plaintext, p probe) (allowed, ok bool) {
	s.t.Helper()
	if s.Authorize == nil {
		return false, false
	}
	return s.Authorize(s.t, token, p.rt, p.name, p.action), true
}

func (s *suite) wantAuthorized(token engine.Plaintext, want bool, probes ...probe) {
	s.t.Helper()
	for _, p := range probes {
		if got, ok := s.authorize(token, p); ok && got != want {
			s.t.Errorf("authorize %s: got %v, want %v", p, got, want)
		}
	}
}

func dbPerm(names []string, actions ...engine.Action) engine.Permission {
	return engine.Permission{Type: engine.ResourceDatabase, Names: names, Actions: actions}
}

func sysPerm(names ...string) engine.Permission {
	return engine.Permission{Type: engine.ResourceSystem, Names: names, Actions: []engine.Action{engine.ActionRead}}
}

func asError(err error, target **engine.Error) bool { return errors.As(err, target) }

func readDB(name string) engine.MintRequest {
	return engine.MintRequest{Name: name, Permissions: []engine.Permission{dbPerm([]string{dbTelemetry}, engine.ActionRead)}}
}
