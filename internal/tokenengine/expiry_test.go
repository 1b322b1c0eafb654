package tokenengine_test

import (
	"net/http"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func TestExpiryIsEnforcedAndPurged(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	inst := tokenenginetest.Start(t, tokenenginetest.WithClock(clk), tokenenginetest.WithExpiredRetention(time.Hour))
	short := mint(t, inst.URL, inst.AdminToken, dbTokenBody("short", []string{"a"}, []string{"read"}, `"expiry_secs":60`))
	forever := mint(t, inst.URL, inst.AdminToken, dbTokenBody("forever", []string{"a"}, []string{"read"}, ""))
	if *short.Expiry != "2026-01-02T03:05:05.000Z" {
		t.Fatalf("expiry %s, want creation + 60 s on the injected clock", *short.Expiry)
	}

	clk.Step(59 * time.Second)
	wantCode(t, authorize(t, inst.URL, short.Token, "a", "read"), http.StatusNoContent)
	clk.Step(time.Second) // expiry is exclusive: at the expiry instant the token is dead
	wantCode(t, authorize(t, inst.URL, short.Token, "a", "read"), http.StatusUnauthorized)
	wantCode(t, authorize(t, inst.URL, forever.Token, "a", "read"), http.StatusNoContent)

	sys := mint(t, inst.URL, inst.AdminToken, `{"token_name":"sys","permissions":[{"resource_type":"system","resource_names":["*"],"actions":["read"]}],"expiry_secs":1}`)
	clk.Step(time.Second)
	wantCode(t, call(t, http.MethodGet, inst.URL+"/health", bearer(sys.Token), ""), http.StatusUnauthorized)

	// Still listed during the retention period, like the real server keeps it.
	if got := names(listTokens(t, inst.URL, inst.AdminToken, "SELECT name FROM system.tokens WHERE expiry IS NOT NULL")); got != "short,sys" {
		t.Fatalf("listed %q", got)
	}
	if n, err := inst.Engine().PurgeExpired(); err != nil || n != 0 {
		t.Fatalf("purge inside retention removed %d (%v)", n, err)
	}
	clk.Step(time.Hour)
	if n, err := inst.Engine().PurgeExpired(); err != nil || n != 2 {
		t.Fatalf("purge after retention removed %d (%v), want 2", n, err)
	}
	if got := names(listTokens(t, inst.URL, inst.AdminToken, "SELECT name FROM system.tokens")); got != "_admin,forever" {
		t.Fatalf("after purge listed %q", got)
	}
	// The purge is durable and the name is free again.
	inst.Restart()
	mint(t, inst.URL, inst.AdminToken, dbTokenBody("short", []string{"a"}, []string{"read"}, ""))
}

func TestPurgerRunsOnTheClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	e, err := tokenengine.Open(tokenengine.Config{DataDir: dir, Clock: clk, ExpiredRetention: time.Minute, PurgeInterval: time.Minute,
		EnableUnauthenticatedAdminBootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	ctx := t.Context()
	go e.RunPurger(ctx)
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(time.Minute) // nothing to purge; must not fail
}
