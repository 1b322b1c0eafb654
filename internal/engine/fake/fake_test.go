package fake_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
)

var ctx = context.Background()

func req(name string, ttl time.Duration) engine.MintRequest {
	return engine.MintRequest{Name: name, TTL: ttl, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"db"}, Actions: []engine.Action{engine.ActionWrite}},
	}}
}

func TestFailNextQueuesPerOperation(t *testing.T) {
	e := fake.New()
	boom := engine.PermanentErrorf("boom")
	e.FailNext(fake.OpMint, boom, engine.Errorf("flaky"))
	if _, err := e.Mint(ctx, req("a", 0)); !errors.Is(err, boom) {
		t.Fatalf("first Mint: %v", err)
	}
	if _, err := e.Mint(ctx, req("a", 0)); engine.KindOf(err) != engine.Transient {
		t.Fatalf("second Mint: %v", err)
	}
	if _, err := e.Mint(ctx, req("a", 0)); err != nil {
		t.Fatalf("third Mint: %v", err)
	}
	if e.MintCount() != 1 || e.Calls(fake.OpMint) != 3 || e.Calls(fake.OpRevoke) != 0 {
		t.Errorf("MintCount %d, Calls %d", e.MintCount(), e.Calls(fake.OpMint))
	}
}

func TestFailFuncSeesNames(t *testing.T) {
	e := fake.New()
	e.SetFailFunc(func(op fake.Op, name string) error {
		if op == fake.OpRevoke && strings.HasPrefix(name, "stuck") {
			return engine.Errorf("cannot revoke")
		}
		return nil
	})
	if err := e.Revoke(ctx, "stuck-1", ""); err == nil {
		t.Error("Revoke(stuck-1) succeeded")
	}
	if err := e.Revoke(ctx, "other", ""); err != nil {
		t.Error(err)
	}
	e.SetFailFunc(nil)
	if err := e.Revoke(ctx, "stuck-1", ""); err != nil {
		t.Error(err)
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	e := fake.New()
	e.SetLatency(time.Hour)
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := e.Check(c); engine.KindOf(err) != engine.Transient || err == nil {
		t.Fatalf("got %v, want a Transient timeout", err)
	}
}

func TestLostMintResponseLeadsToConflict(t *testing.T) {
	e := fake.New()
	e.LoseNextMintResponses(1)
	if _, err := e.Mint(ctx, req("a", 0)); engine.KindOf(err) != engine.Transient {
		t.Fatalf("lost response: %v", err)
	}
	if _, err := e.Mint(ctx, req("a", 0)); !engine.IsConflict(err) {
		t.Fatalf("retry: %v, want Conflict", err)
	}
	if len(e.Live()) != 1 {
		t.Errorf("Live = %v", e.Live())
	}
}

func TestExpiryAndIntrospection(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	e := fake.New(fake.WithClock(clk))
	m, err := e.Mint(ctx, req("short", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Mint(ctx, req("forever", 0)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Token.Reveal(), fake.TokenPrefix) || len(m.Token.Reveal()) != 92 {
		t.Errorf("token %d chars, want InfluxDB 3's 92", len(m.Token.Reveal()))
	}
	if !e.Accepts(m.Token.Reveal()) || !e.Allows(m.Token.Reveal(), engine.ResourceDatabase, "db", engine.ActionWrite) ||
		e.Allows(m.Token.Reveal(), engine.ResourceDatabase, "db", engine.ActionRead) {
		t.Error("permissions not enforced")
	}
	clk.Step(time.Minute)
	if e.Accepts(m.Token.Reveal()) {
		t.Error("expired token accepted")
	}
	if live, all := e.Live(), e.Tokens(); len(live) != 1 || live[0].Name != "forever" || len(all) != 2 {
		t.Errorf("Live %v, Tokens %v", live, all)
	}
	if err := e.Revoke(ctx, "short", ""); err != nil || e.RevokeCount() != 1 {
		t.Errorf("Revoke: %v, count %d", err, e.RevokeCount())
	}
	if e.Accepts("apiv3_guess") {
		t.Error("accepted an unknown token")
	}
}

func TestDownAndUnauthorizedToggle(t *testing.T) {
	e := fake.New()
	e.SetDown(true)
	if err := e.Check(ctx); engine.KindOf(err) != engine.Transient || err == nil {
		t.Errorf("down: %v", err)
	}
	e.SetDown(false)
	e.SetUnauthorized(true)
	if err := e.Check(ctx); !engine.IsUnauthorized(err) {
		t.Errorf("unauthorized: %v", err)
	}
	e.SetUnauthorized(false)
	if err := e.Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := fake.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := string(rune('a' + i))
			for range 50 {
				m, err := e.Mint(ctx, req(name, 0))
				if err != nil {
					t.Error(err)
					return
				}
				e.Accepts(m.Token.Reveal())
				_, _ = e.List(ctx, "")
				_ = e.Revoke(ctx, name, "")
			}
		})
	}
	wg.Wait()
	if e.MintCount() != 400 || e.RevokeCount() != 400 || len(e.Tokens()) != 0 {
		t.Errorf("mints %d revokes %d left %d", e.MintCount(), e.RevokeCount(), len(e.Tokens()))
	}
}
