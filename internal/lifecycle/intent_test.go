package lifecycle

import (
	"encoding/json"
	"testing"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// The intent annotation stands for status.pending only while it names the resource's own next
// token and status has not caught up with it; anything else in it is ignored (it is writable by
// whoever may edit the resource).
func TestPendingFromIntent(t *testing.T) {
	own := tokensv1.PendingMint{Revision: 1, TokenName: TokenName("ns", "a", "uid-1234", 1), StartedAt: at(0),
		Permissions: "db:telemetry:write", ExpiresAfter: "1h"}
	enc := func(p tokensv1.PendingMint) string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	with := func(f func(*tokensv1.PendingMint)) string {
		p := own
		f(&p)
		return enc(p)
	}
	pending, _, _, _ := decideFixtures()
	tests := []struct {
		name       string
		annotation string
		status     tokensv1.TokenStatus
		want       bool
	}{
		{"a first mint's intent stands for status.pending", enc(own), tokensv1.TokenStatus{}, true},
		{"absent", "", tokensv1.TokenStatus{}, false},
		{"malformed", "{not json", tokensv1.TokenStatus{}, false},
		{"status caught up (the mint was recorded)", enc(own), tokensv1.TokenStatus{Revision: 1, Current: current(1)}, false},
		{"status past it (rolled back and minted again, or abandoned)", enc(own), tokensv1.TokenStatus{Revision: 2}, false},
		{"status.pending is set: status wins", enc(own), tokensv1.TokenStatus{Revision: 2, Pending: pending}, false},
		{"not the next revision", with(func(p *tokensv1.PendingMint) { p.Revision = 3; p.TokenName = TokenName("ns", "a", "uid-1234", 3) }), tokensv1.TokenStatus{}, false},
		{"another resource's token name", with(func(p *tokensv1.PendingMint) { p.TokenName = TokenName("ns", "b", "uid-9999", 1) }), tokensv1.TokenStatus{}, false},
		{"another revision's name", with(func(p *tokensv1.PendingMint) { p.TokenName = TokenName("ns", "a", "uid-1234", 2) }), tokensv1.TokenStatus{}, false},
		{"no start time", with(func(p *tokensv1.PendingMint) { p.StartedAt = nil }), tokensv1.TokenStatus{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PendingFromIntent(tt.annotation, &tt.status, "ns", "a", "uid-1234")
			if (got != nil) != tt.want {
				t.Fatalf("PendingFromIntent() = %+v, want an intent: %v", got, tt.want)
			}
			if got != nil && (got.TokenName != own.TokenName || got.Permissions != own.Permissions || !got.StartedAt.Equal(own.StartedAt)) {
				t.Errorf("PendingFromIntent() = %+v, want %+v", got, own)
			}
		})
	}
}

// A view that shows, as pending, a token this process recorded as current is stale without an
// uncached read, but only for knownStaleFor (a status restored from a backup is read for real).
func TestStaleByOwnWrite(t *testing.T) {
	pending, _, _, _ := decideFixtures()
	rec := recordedCurrent{name: pending.TokenName, at: t0}
	tests := []struct {
		name          string
		status        tokensv1.TokenStatus
		now           time.Time
		stale, forget bool
	}{
		{"our recorded token still pending in the view: stale", tokensv1.TokenStatus{Pending: pending}, t0.Add(time.Second), true, false},
		{"the view shows it current: caught up, forgotten", tokensv1.TokenStatus{Current: current(2)}, t0.Add(time.Second), false, true},
		{"another pending token: not ours to judge", tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{Revision: 3, TokenName: "other"}}, t0.Add(time.Second), false, false},
		{"nothing pending: not stale by our write", tokensv1.TokenStatus{Current: current(1)}, t0.Add(time.Second), false, false},
		{"after the window: read for real, forgotten", tokensv1.TokenStatus{Pending: pending}, t0.Add(knownStaleFor), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale, forget := staleByOwnWrite(rec, &tt.status, tt.now)
			if stale != tt.stale || forget != tt.forget {
				t.Errorf("staleByOwnWrite() = %v, %v; want %v, %v", stale, forget, tt.stale, tt.forget)
			}
		})
	}
}
