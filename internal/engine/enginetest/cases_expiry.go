package enginetest

import (
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
)

// timestampSlack absorbs engines that store times in milliseconds.
const timestampSlack = 5 * time.Millisecond

// testExpiry: the lifetime is reported (rounded up at most to the engine's granularity) and,
// where the engine can be asked, the token stops working at expiry.
func testExpiry(t *testing.T, s *suite) {
	if !s.Features.NativeExpiry {
		// The operator revokes at expiry itself; the engine need only accept the request.
		s.mint(engine.MintRequest{Name: s.name("ttl"), Permissions: readDB("").Permissions, TTL: time.Hour})
		return
	}
	for _, ttl := range []time.Duration{300 * time.Millisecond, 90 * time.Second, 720 * time.Hour} {
		name := s.name("ttl-" + ttl.String())
		start := time.Now()
		m := s.mint(engine.MintRequest{Name: name, Permissions: readDB("").Permissions, TTL: ttl})
		// An adapter that sends an absolute expiry (Cloud Dedicated) reads its clock before the
		// request and the server stamps createdAt on arrival: the lifetime the server records
		// is short by up to the call's duration (CI saw 13 ms).
		s.wantLifetime("Mint", m.CreatedAt, m.ExpiresAt, ttl, time.Since(start))
		info, err := s.lookup(name)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if info.ExpiresAt == nil || m.ExpiresAt == nil || absDuration(info.ExpiresAt.Sub(*m.ExpiresAt)) > timestampSlack {
			t.Errorf("TTL %s: Lookup ExpiresAt = %v, Mint said %v", ttl, info.ExpiresAt, m.ExpiresAt)
		}
	}

	if s.Authorize == nil {
		return
	}
	const ttl = time.Second
	name := s.name("expires")
	m := s.mint(engine.MintRequest{Name: name, Permissions: readDB("").Permissions, TTL: ttl})
	p := probe{engine.ResourceDatabase, dbTelemetry, engine.ActionRead}
	s.wantAuthorized(m.Token, true, p)
	// At least the reported lifetime passes after the mint returned, so the engine's clock is
	// past ExpiresAt whatever it rounded.
	s.advance(m.ExpiresAt.Sub(m.CreatedAt) + 100*time.Millisecond)
	s.wantAuthorized(m.Token, false, p)
	// An expired token can still be revoked (engines keep them until then).
	s.revoke(name)
}

// wantLifetime: expires - created is ttl, rounded up by at most the engine's granularity, and
// short by at most the mint call's duration (took).
func (s *suite) wantLifetime(what string, created time.Time, expires *time.Time, ttl, took time.Duration) {
	s.t.Helper()
	if expires == nil {
		s.t.Errorf("%s with TTL %s: ExpiresAt is nil", what, ttl)
		return
	}
	got := expires.Sub(created)
	if got < ttl-took-timestampSlack || got > ttl+s.Features.ExpiryGranularity+timestampSlack {
		s.t.Errorf("%s with TTL %s: lifetime %s, want %s rounded up by at most %s", what, ttl, got, ttl, s.Features.ExpiryGranularity)
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
