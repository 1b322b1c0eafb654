package lifecycle

import (
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

// desired is what the spec of the table's resource asks for; current tokens were minted for it.
var desired = Desired{Permissions: "db:telemetry:write", ExpiresAfter: "1h"}

func current(rev int64, opts ...func(*tokensv1.TokenRecord)) *tokensv1.TokenRecord {
	r := &tokensv1.TokenRecord{TokenName: TokenName("ns", "a", "uid-1234", rev), Revision: rev, Fingerprint: "fp",
		Permissions: desired.Permissions, ExpiresAfter: desired.ExpiresAfter}
	for _, o := range opts {
		o(r)
	}
	return r
}

func expiresIn(d time.Duration) func(*tokensv1.TokenRecord) {
	return func(r *tokensv1.TokenRecord) { r.ExpiresAt = at(d) }
}

func renewsIn(d time.Duration) func(*tokensv1.TokenRecord) {
	return func(r *tokensv1.TokenRecord) { r.RenewAt = at(d) }
}

// ours is a Secret we wrote at rev, holding the token whose fingerprint is "fp".
func ours(rev int64) SecretView {
	return SecretView{Exists: true, Ours: true, Revision: rev, TokenName: TokenName("ns", "a", "uid-1234", rev), HasToken: true, Fingerprint: "fp"}
}

// decideFixtures are the pieces of state the Decide tables share: a pending mint of revision 2,
// an Expired condition, our Secret with its token stripped, and our Secret holding another token.
func decideFixtures() (pending *tokensv1.PendingMint, expiredCond []metav1.Condition, stripped, changed SecretView) {
	pending = &tokensv1.PendingMint{Revision: 2, TokenName: TokenName("ns", "a", "uid-1234", 2), StartedAt: at(-10 * time.Second)}
	expiredCond = []metav1.Condition{{Type: tokensv1.ConditionExpired, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonExpired}}
	stripped = ours(1)
	stripped.HasToken, stripped.Fingerprint = false, ""
	changed = ours(1)
	changed.Fingerprint = "other"
	return pending, expiredCond, stripped, changed
}

func TestDecide(t *testing.T) {
	pending, expiredCond, stripped, changed := decideFixtures()

	tests := []struct {
		name   string
		status tokensv1.TokenStatus
		secret SecretView
		want   Decision
	}{
		{"new resource mints", tokensv1.TokenStatus{}, SecretView{}, Decision{Action: ActionMint}},
		{"a Secret that is not ours is a conflict", tokensv1.TokenStatus{}, SecretView{Exists: true}, Decision{Action: ActionConflict}},
		{"a Secret that is not ours is a conflict even with a live token", tokensv1.TokenStatus{Current: current(1)},
			SecretView{Exists: true}, Decision{Action: ActionConflict}},
		{"pending with its Secret resumes", tokensv1.TokenStatus{Pending: pending}, ours(2), Decision{Action: ActionResume}},
		{"pending without Secret inside its grace waits for the other worker",
			tokensv1.TokenStatus{Pending: pending}, SecretView{}, Decision{Action: ActionWait, RequeueAfter: 20 * time.Second}},
		{"pending with an older Secret inside its grace waits", tokensv1.TokenStatus{Pending: pending, Current: current(1)},
			ours(1), Decision{Action: ActionWait, RequeueAfter: 20 * time.Second}},
		{"pending without Secret after its grace is abandoned",
			tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{Revision: 2, TokenName: pending.TokenName, StartedAt: at(-time.Minute)}},
			SecretView{}, Decision{Action: ActionAbandon}},
		{"pending without a start time is abandoned", tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{Revision: 2, TokenName: pending.TokenName}},
			SecretView{}, Decision{Action: ActionAbandon}},
		{"steady state without expiry never requeues", tokensv1.TokenStatus{Current: current(1)}, ours(1), Decision{Action: ActionWait}},
		{"steady state requeues at expiry", tokensv1.TokenStatus{Current: current(1, expiresIn(time.Hour))}, ours(1),
			Decision{Action: ActionWait, RequeueAfter: time.Hour}},
		{"steady state requeues at renewal, before expiry", tokensv1.TokenStatus{Current: current(1, expiresIn(time.Hour), renewsIn(40*time.Minute))},
			ours(1), Decision{Action: ActionWait, RequeueAfter: 40 * time.Minute}},
		{"a predecessor's revocation is the earliest deadline",
			tokensv1.TokenStatus{Current: current(2, expiresIn(time.Hour)), Previous: []tokensv1.TokenRecord{{TokenName: "old", RevokeAt: at(2 * time.Minute)}}},
			ours(2), Decision{Action: ActionWait, RequeueAfter: 2 * time.Minute}},
		{"expiry instant reached expires", tokensv1.TokenStatus{Current: current(1, expiresIn(0))}, ours(1), Decision{Action: ActionExpire}},
		{"expiry carried out waits without requeue", tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Minute)), Conditions: expiredCond},
			stripped, Decision{Action: ActionWait}},
		{"expired with the Secret deleted does not mint again",
			tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Minute)), Conditions: expiredCond}, SecretView{}, Decision{Action: ActionWait}},
		{"renewal due mints a successor", tokensv1.TokenStatus{Current: current(1, expiresIn(time.Hour), renewsIn(0))}, ours(1),
			Decision{Action: ActionSuccessor, Why: WhyRenewal}},
		{"Secret deleted mints a successor", tokensv1.TokenStatus{Current: current(1)}, SecretView{}, Decision{Action: ActionSuccessor, Why: WhySecretMissing}},
		{"token changed by hand mints a successor", tokensv1.TokenStatus{Current: current(1)}, changed, Decision{Action: ActionSuccessor, Why: WhyTokenChanged}},
		{"token key removed by hand mints a successor", tokensv1.TokenStatus{Current: current(1)}, stripped, Decision{Action: ActionSuccessor, Why: WhyTokenChanged}},
		{"an older revision in the Secret mints a successor", tokensv1.TokenStatus{Current: current(2)}, ours(1), Decision{Action: ActionSuccessor, Why: WhyTokenChanged}},
		{"other permissions mint a successor", tokensv1.TokenStatus{Current: current(1, func(r *tokensv1.TokenRecord) { r.Permissions = "db:telemetry:read" })},
			ours(1), Decision{Action: ActionSuccessor, Why: WhySpecChanged}},
		{"another expiresAfter mints a successor", tokensv1.TokenStatus{Current: current(1, func(r *tokensv1.TokenRecord) { r.ExpiresAfter = "" })},
			ours(1), Decision{Action: ActionSuccessor, Why: WhySpecChanged}},
		{"a record from before permissions were recorded is taken as matching",
			tokensv1.TokenStatus{Current: current(1, func(r *tokensv1.TokenRecord) { r.Permissions, r.ExpiresAfter = "", "" })},
			ours(1), Decision{Action: ActionWait}},
		{"a spec change after expiry mints a new token", tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Minute),
			func(r *tokensv1.TokenRecord) { r.Permissions = "db:old:write" }), Conditions: expiredCond},
			stripped, Decision{Action: ActionSuccessor, Why: WhySpecChanged}},
		{"a newer revision than status knows waits for the stale status", tokensv1.TokenStatus{Current: current(1)}, ours(2),
			Decision{Action: ActionWait, RequeueAfter: StaleRequeue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Now: t0, Status: &tt.status, Secret: tt.secret, Desired: desired, PendingGrace: 30 * time.Second})
			if got != tt.want {
				t.Errorf("Decide() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Issue 15: rotating tokens recover from expiry, pending mints of an earlier leader are abandoned
// at once, and the renew annotation mints a successor, also for expired tokens.
func TestDecideRecoveryLeaderAndRenewRequest(t *testing.T) {
	pending := &tokensv1.PendingMint{Revision: 3, TokenName: TokenName("ns", "a", "uid-1234", 3), StartedAt: at(-10 * time.Second)}
	expiredCond := []metav1.Condition{{Type: tokensv1.ConditionExpired, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonExpired}}
	stripped := ours(2)
	stripped.HasToken, stripped.Fingerprint = false, ""
	type in struct {
		rotating, renew bool
		leaderSince     time.Time
	}
	tests := []struct {
		name   string
		in     in
		status tokensv1.TokenStatus
		secret SecretView
		want   Decision
	}{
		// The observed failure: pending r3 after a crash, r2 expired during the grace.
		{"rotating: an expired current revision is expired first", in{rotating: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Second))}, ours(2), Decision{Action: ActionExpire}},
		{"rotating: once expired, a successor closes the gap", in{rotating: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Minute)), Conditions: expiredCond}, stripped,
			Decision{Action: ActionSuccessor, Why: WhyRenewedAfterExpiry}},
		{"rotating: expired with the Secret deleted gets a successor too", in{rotating: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Minute)), Conditions: expiredCond}, SecretView{},
			Decision{Action: ActionSuccessor, Why: WhyRenewedAfterExpiry}},
		{"without rotation expiry stays final", in{},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Minute)), Conditions: expiredCond}, stripped, Decision{Action: ActionWait}},
		{"rotating: a pending mint inside its grace still waits without leader election", in{rotating: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(5*time.Second)), Pending: pending}, ours(2),
			Decision{Action: ActionWait, RequeueAfter: 20 * time.Second}},
		// Found by test/chaos: Ready stayed True for the whole grace while the Secret held a dead token.
		{"rotating: a pending mint inside its grace waits, and says the current revision expired", in{rotating: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-5*time.Second)), Pending: pending}, ours(2),
			Decision{Action: ActionWait, RequeueAfter: 20 * time.Second, CurrentExpired: true}},
		{"a pending mint inside its grace with an expiry carried out already is no news", in{},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-5*time.Second)), Pending: pending, Conditions: expiredCond}, stripped,
			Decision{Action: ActionWait, RequeueAfter: 20 * time.Second}},
		{"an earlier leader's pending mint is abandoned at once", in{rotating: true, leaderSince: t0.Add(-2 * time.Second)},
			tokensv1.TokenStatus{Current: current(2, expiresIn(5*time.Second)), Pending: pending}, ours(2), Decision{Action: ActionAbandon}},
		{"a pending mint of this leader's term keeps its grace", in{leaderSince: t0.Add(-time.Minute)},
			tokensv1.TokenStatus{Current: current(2), Pending: pending}, ours(2), Decision{Action: ActionWait, RequeueAfter: 20 * time.Second}},
		{"an earlier leader's pending mint with its Secret resumes", in{leaderSince: t0},
			tokensv1.TokenStatus{Current: current(2), Pending: pending}, ours(3), Decision{Action: ActionResume}},
		// The renew annotation.
		{"a renew request mints a successor", in{renew: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(time.Hour))}, ours(2), Decision{Action: ActionSuccessor, Why: WhyRenewRequested}},
		{"a renew request revives an expired token", in{renew: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Minute)), Conditions: expiredCond}, stripped,
			Decision{Action: ActionSuccessor, Why: WhyRenewRequested}},
		{"a renew request on a token just expiring expires it first", in{renew: true},
			tokensv1.TokenStatus{Current: current(2, expiresIn(0))}, ours(2), Decision{Action: ActionExpire}},
		{"a token changed by hand wins over a renew request (revoked at once)", in{renew: true},
			tokensv1.TokenStatus{Current: current(2)}, func() SecretView { v := ours(2); v.Fingerprint = "x"; return v }(),
			Decision{Action: ActionSuccessor, Why: WhyTokenChanged}},
		{"a renew request waits for a pending mint", in{renew: true},
			tokensv1.TokenStatus{Current: current(2), Pending: pending}, ours(3), Decision{Action: ActionResume}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Now: t0, Status: &tt.status, Secret: tt.secret, Desired: desired, PendingGrace: 30 * time.Second,
				Rotating: tt.in.rotating, RenewRequested: tt.in.renew, LeaderSince: tt.in.leaderSince})
			if got != tt.want {
				t.Errorf("Decide() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenewRequested(t *testing.T) {
	tests := []struct {
		name       string
		annotation string
		status     tokensv1.TokenStatus
		want       bool
	}{
		{"no annotation", "", tokensv1.TokenStatus{}, false},
		{"a new value", "v1", tokensv1.TokenStatus{}, true},
		{"a value a token answered", "v1", tokensv1.TokenStatus{LastRenewRequest: "v1"}, false},
		{"another value after one was answered", "v2", tokensv1.TokenStatus{LastRenewRequest: "v1"}, true},
		{"a value the mint in progress answers", "v2", tokensv1.TokenStatus{LastRenewRequest: "v1", Pending: &tokensv1.PendingMint{RenewRequest: "v2"}}, false},
		{"a value newer than the mint in progress", "v3", tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{RenewRequest: "v2"}}, true},
		{"annotation removed after a request", "", tokensv1.TokenStatus{LastRenewRequest: "v1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RenewRequested(tt.annotation, &tt.status); got != tt.want {
				t.Errorf("RenewRequested(%q) = %v, want %v", tt.annotation, got, tt.want)
			}
		})
	}
}

func TestExpiryGap(t *testing.T) {
	if got := ExpiryGap(at(-90*time.Second), t0); got != 90*time.Second {
		t.Errorf("ExpiryGap() = %v, want 1m30s", got)
	}
	if got := ExpiryGap(at(time.Second), t0); got != 0 {
		t.Errorf("ExpiryGap(not expired) = %v, want 0", got)
	}
	if got := ExpiryGap(nil, t0); got != 0 {
		t.Errorf("ExpiryGap(never expires) = %v, want 0", got)
	}
}

func TestNextDeadlineOverdueComesBackSoonNotAtOnce(t *testing.T) {
	st := &tokensv1.TokenStatus{Current: current(2), Previous: []tokensv1.TokenRecord{{TokenName: "old", RevokeAt: at(-time.Second)}}}
	if got := NextDeadline(st, t0, false); got != StaleRequeue {
		t.Errorf("NextDeadline() = %v, want %v", got, StaleRequeue)
	}
	expired := &tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Hour))}
	if got := NextDeadline(expired, t0, true); got != 0 {
		t.Errorf("NextDeadline(expired) = %v, want 0: an expired token has no deadlines left", got)
	}
}

func TestRenewAtIsJitteredEarlierNeverLater(t *testing.T) {
	exp := t0.Add(30 * 24 * time.Hour)
	seen := map[time.Time]bool{}
	for i := range 200 {
		name := TokenName("ns", "tok-"+strconv.Itoa(i), "uid-1234", 1)
		at := RenewAt(exp, 7*24*time.Hour, name)
		latest := exp.Add(-7 * 24 * time.Hour)
		if at.After(latest) || at.Before(latest.Add(-maxRenewJitter)) {
			t.Fatalf("RenewAt(%s) = %v, want within %v before %v", name, at, maxRenewJitter, latest)
		}
		if !at.Equal(RenewAt(exp, 7*24*time.Hour, name)) {
			t.Fatal("RenewAt must be stable for one token")
		}
		seen[at.Truncate(time.Second)] = true
	}
	if len(seen) < 120 { // 200 draws over 300 s: about 146 distinct seconds expected
		t.Errorf("200 tokens minted together renew in only %d distinct seconds", len(seen))
	}
	// A short renewBefore keeps the jitter within a tenth of it.
	if at := RenewAt(exp, 10*time.Second, "x"); at.Before(exp.Add(-11*time.Second)) || at.After(exp.Add(-10*time.Second)) {
		t.Errorf("RenewAt with renewBefore 10s = %v", exp.Sub(at))
	}
}

func TestPredecessorRevokeAt(t *testing.T) {
	old := current(1, expiresIn(time.Hour))
	noExpiry := current(1)
	tests := []struct {
		name string
		why  string
		old  *tokensv1.TokenRecord
		want time.Time
	}{
		{"scheduled renewal keeps the predecessor until its own expiry", WhyRenewal, old, t0.Add(time.Hour)},
		{"renewal of a token without expiry waits the overlap", WhyRenewal, noExpiry, t0.Add(2 * time.Minute)},
		{"a token changed by hand is exposed: revoked at once", WhyTokenChanged, old, t0},
		{"a deleted Secret waits the overlap", WhySecretMissing, old, t0.Add(2 * time.Minute)},
		{"a spec change waits the overlap", "", old, t0.Add(2 * time.Minute)},
		{"a renew request waits the overlap", WhyRenewRequested, old, t0.Add(2 * time.Minute)},
		{"an expired predecessor has nothing to overlap with", WhyRenewedAfterExpiry, old, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PredecessorRevokeAt(tt.why, tt.old, t0, 2*time.Minute); !got.Equal(tt.want) {
				t.Errorf("PredecessorRevokeAt() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	d := func(s string) *tokensv1.Duration { v := tokensv1.Duration(s); return &v }
	tests := []struct {
		in      *tokensv1.Duration
		want    time.Duration
		wantErr bool
	}{
		{nil, 0, false},
		{d(""), 0, false},
		{d("30s"), 30 * time.Second, false},
		{d("720h"), 720 * time.Hour, false},
		{d("7d"), 7 * 24 * time.Hour, false},
		{d("2w"), 14 * 24 * time.Hour, false},
		{d("1y"), 8766 * time.Hour, false},
		{d("1d12h"), 36 * time.Hour, false},
		{d("1.5h"), 0, true},
		{d("-1h"), 0, true},
		{d("10"), 0, true},
		{d("1ms"), 0, true},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.in != nil {
			name = string(*tt.in)
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseDuration(%s) = %v, %v; want %v, error %v", name, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTokenNameAndFingerprint(t *testing.T) {
	if got, want := TokenName("monitoring", "telegraf-writer", "0f1e2d3c-aaaa-bbbb", 3), "k8s.monitoring.telegraf-writer.0f1e2d3c.r3"; got != want {
		t.Errorf("TokenName() = %q, want %q", got, want)
	}
	a, b := Fingerprint("uid-a", []byte("apiv3_x")), Fingerprint("uid-b", []byte("apiv3_x"))
	if a == b {
		t.Error("fingerprints of one token under two resources must differ (keyed by UID)")
	}
	if a != Fingerprint("uid-a", []byte("apiv3_x")) || len(a) != 64 {
		t.Errorf("fingerprint must be a stable hex HMAC-SHA256, got %q", a)
	}
}

func TestRenderExtraKeys(t *testing.T) {
	data := TemplateData{EngineURL: "http://engine:8181", Databases: []string{"telemetry", "logs"}, Database: "telemetry", TokenName: "k8s.ns.a.u.r1"}
	got, err := RenderExtraKeys(map[string]string{
		"INFLUX_HOST": "{{ .EngineURL }}",
		"DBS":         `{{ join .Databases "," }}`,
		"NAME":        "{{ .TokenName }}",
	}, data)
	if err != nil {
		t.Fatal(err)
	}
	if string(got["INFLUX_HOST"]) != "http://engine:8181" || string(got["DBS"]) != "telemetry,logs" || string(got["NAME"]) != "k8s.ns.a.u.r1" {
		t.Errorf("RenderExtraKeys() = %q", got)
	}
	for _, bad := range []string{"{{ .Nope }}", "{{ .EngineURL"} {
		if _, err := RenderExtraKeys(map[string]string{"K": bad}, data); err == nil {
			t.Errorf("RenderExtraKeys(%q) succeeded, want an error naming the key", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	perms := []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry", "logs"}, Actions: []engine.Action{engine.ActionWrite}},
		{Type: engine.ResourceDatabase, Names: []string{"*"}, Actions: []engine.Action{engine.ActionRead}},
	}
	if got, want := Summarize(perms), "db:telemetry,logs:write db:*:read"; got != want {
		t.Errorf("Summarize() = %q, want %q", got, want)
	}
	back, ok := ParseSummary(Summarize(perms))
	if !ok || Summarize(back) != Summarize(perms) || len(back) != 2 || back[0].Names[1] != "logs" {
		t.Errorf("ParseSummary(Summarize()) = %+v, %v; want the permissions back", back, ok)
	}
	for _, bad := range []string{"", "db:x", "db::read", "queue:x:read"} {
		if _, ok := ParseSummary(bad); ok {
			t.Errorf("ParseSummary(%q) succeeded", bad)
		}
	}
}

// TestAfterRecord: a token recorded for a spec that has changed since (a mint resumed after a
// restart) or with a renew request still open asks for the next pass at once; otherwise the next
// deadline. The chaos test found the first case stuck with the old permissions for good.
func TestAfterRecord(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cur := &tokensv1.TokenRecord{TokenName: "t.r1", Revision: 1, Permissions: "db:a:write"}
	want := Desired{Permissions: "db:a:write"}
	for _, tc := range []struct {
		name  string
		st    tokensv1.TokenStatus
		want  Desired
		renew string
		out   time.Duration
	}{
		{"matches the spec, no deadline", tokensv1.TokenStatus{Current: cur}, want, "", 0},
		{"resumed for an older spec", tokensv1.TokenStatus{Current: cur}, Desired{Permissions: "db:b:write"}, "", FollowUpRequeue},
		{"another lifetime asked for", tokensv1.TokenStatus{Current: cur}, Desired{Permissions: "db:a:write", ExpiresAfter: "1h"}, "", FollowUpRequeue},
		{"renew request still open", tokensv1.TokenStatus{Current: cur, LastRenewRequest: "v1"}, want, "v2", FollowUpRequeue},
		{"renew request answered", tokensv1.TokenStatus{Current: cur, LastRenewRequest: "v2"}, want, "v2", 0},
	} {
		if got := AfterRecord(&tc.st, tc.want, tc.renew, now); got != tc.out {
			t.Errorf("%s: AfterRecord = %v, want %v", tc.name, got, tc.out)
		}
	}
}

// Issue 16 item 6: a token minted in another engine than the one the resource resolves to now is
// replaced; kind and name decide, a record without an engine (written before engines were
// recorded) matches any.
func TestDecideEngineChange(t *testing.T) {
	engA := &tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: "a", UID: "uid-a"}
	engB := &tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: "b", UID: "uid-b"}
	recreatedA := &tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: "a", UID: "uid-a2"}
	nsA := &tokensv1.EngineIdentity{Kind: tokensv1.TokenEngineKind, Name: "a"}
	in := func(cur, want *tokensv1.EngineIdentity) Input {
		d := desired
		d.Engine = want
		return Input{Now: t0, Status: &tokensv1.TokenStatus{Current: current(1, func(r *tokensv1.TokenRecord) { r.Engine = cur })},
			Secret: ours(1), Desired: d, PendingGrace: 30 * time.Second}
	}
	successor := Decision{Action: ActionSuccessor, Why: WhyEngineChanged}
	for _, tc := range []struct {
		name      string
		cur, want *tokensv1.EngineIdentity
		decision  Decision
	}{
		{"same engine waits", engA, engA, Decision{Action: ActionWait}},
		{"another engine mints a successor there", engA, engB, successor},
		{"a TokenEngine of the same name is another engine", engA, nsA, successor},
		{"a re-created engine of the same kind and name is the same engine", engA, recreatedA, Decision{Action: ActionWait}},
		{"a record without an engine matches", nil, engB, Decision{Action: ActionWait}},
		{"an unknown engine (engineref.Static) matches", engA, nil, Decision{Action: ActionWait}},
	} {
		if got := Decide(in(tc.cur, tc.want)); got != tc.decision {
			t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.decision)
		}
		wantFollowUp := tc.decision == successor
		st := in(tc.cur, tc.want)
		if got := AfterRecord(st.Status, st.Desired, "", t0) == FollowUpRequeue; got != wantFollowUp {
			t.Errorf("%s: AfterRecord follows up = %v, want %v (a resumed mint in the old engine needs its successor)", tc.name, got, wantFollowUp)
		}
	}
}

// Issue 14 item 4: system-token support and the last verification are inputs of Decide, not
// decisions taken around it.
func TestDecideUnsupportedAndTokenLost(t *testing.T) {
	pending, expiredCond, stripped, changed := decideFixtures()
	unsupported := Decision{Action: ActionUnsupported}
	lost := Decision{Action: ActionSuccessor, Why: WhyTokenLost}
	tests := []struct {
		name                   string
		unsupported, tokenLost bool
		status                 tokensv1.TokenStatus
		secret                 SecretView
		want                   Decision
	}{
		{"unsupported: nothing is minted for a new resource", true, false, tokensv1.TokenStatus{}, SecretView{}, unsupported},
		{"unsupported ranks before a pending mint with its Secret", true, false,
			tokensv1.TokenStatus{Current: current(1), Pending: pending}, ours(2), unsupported},
		{"unsupported ranks before a pending mint to abandon", true, false,
			tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{Revision: 2, TokenName: pending.TokenName}}, SecretView{}, unsupported},
		{"unsupported ranks before a Secret that is not ours", true, false, tokensv1.TokenStatus{}, SecretView{Exists: true}, unsupported},
		{"unsupported ranks before expiry", true, false, tokensv1.TokenStatus{Current: current(1, expiresIn(0))}, ours(1), unsupported},
		{"unsupported ranks before a lost token", true, true, tokensv1.TokenStatus{Current: current(1)}, ours(1), unsupported},
		{"a lost token in steady state mints a successor", false, true, tokensv1.TokenStatus{Current: current(1, expiresIn(time.Hour))}, ours(1), lost},
		{"a lost token ranks before a stale status, as before", false, true, tokensv1.TokenStatus{Current: current(1)}, ours(2), lost},
		{"a token changed by hand wins over a lost one (revoked at once)", false, true, tokensv1.TokenStatus{Current: current(1)}, changed, Decision{Action: ActionSuccessor, Why: WhyTokenChanged}},
		{"a deleted Secret wins over a lost token", false, true, tokensv1.TokenStatus{Current: current(1)}, SecretView{}, Decision{Action: ActionSuccessor, Why: WhySecretMissing}},
		{"a lost token waits for a pending mint", false, true, tokensv1.TokenStatus{Current: current(1), Pending: pending}, ours(2), Decision{Action: ActionResume}},
		{"a lost token that expired already stays expired", false, true,
			tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Minute)), Conditions: expiredCond}, stripped, Decision{Action: ActionWait}},
		{"a lost token is a conflict first when the Secret is not ours", false, true, tokensv1.TokenStatus{Current: current(1)}, SecretView{Exists: true}, Decision{Action: ActionConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Now: t0, Status: &tt.status, Secret: tt.secret, Desired: desired, PendingGrace: 30 * time.Second,
				Unsupported: tt.unsupported, TokenLost: tt.tokenLost})
			if got != tt.want {
				t.Errorf("Decide() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Issue 14 item 4: the engine's policy verdict is an input of Decide. A refusal ranks first; the
// live token survives it only when the engine still permits what it was minted with and nothing
// else (a pending mint, an expiry) is in the way.
func TestDecideNotPermitted(t *testing.T) {
	pending, expiredCond, stripped, _ := decideFixtures()
	refuse := Decision{Action: ActionRefuseChange}
	revoke := Decision{Action: ActionRevokeNotPermitted}
	report := Decision{Action: ActionNotPermitted}
	noPerms := current(1)
	noPerms.Permissions = ""
	tests := []struct {
		name             string
		currentPermitted bool
		unsupported      bool
		status           tokensv1.TokenStatus
		secret           SecretView
		want             Decision
	}{
		{"nothing live: only reported", false, false, tokensv1.TokenStatus{}, SecretView{}, report},
		{"nothing live, a Secret not ours: reported, not a conflict", false, false, tokensv1.TokenStatus{}, SecretView{Exists: true}, report},
		{"the live token's grant is refused too: revoked", false, false, tokensv1.TokenStatus{Current: current(1)}, ours(1), revoke},
		{"only the spec asks too much: the live token keeps working", true, false, tokensv1.TokenStatus{Current: current(1)}, ours(1), refuse},
		{"a refusal ranks before Unsupported", true, true, tokensv1.TokenStatus{Current: current(1)}, ours(1), refuse},
		{"a refusal ranks before Unsupported, nothing live", false, true, tokensv1.TokenStatus{}, SecretView{}, report},
		{"a pending mint is revoked, never resumed", true, false, tokensv1.TokenStatus{Current: current(1), Pending: pending}, ours(2), revoke},
		{"a pending mint alone is revoked", false, false, tokensv1.TokenStatus{Pending: pending}, SecretView{}, revoke},
		{"predecessors alone are revoked", false, false,
			tokensv1.TokenStatus{Previous: []tokensv1.TokenRecord{{TokenName: "old", Revision: 1}}}, SecretView{}, revoke},
		{"a record without permissions cannot be weighed: revoked", true, false, tokensv1.TokenStatus{Current: noPerms}, ours(1), revoke},
		{"an expired token (revoked then) is nothing live", true, false,
			tokensv1.TokenStatus{Current: current(1, expiresIn(-time.Minute)), Conditions: expiredCond}, stripped, report},
		{"an expired token with a predecessor: the predecessor is revoked", true, false,
			tokensv1.TokenStatus{Current: current(2, expiresIn(-time.Minute)), Conditions: expiredCond,
				Previous: []tokensv1.TokenRecord{{TokenName: "old", Revision: 1}}}, stripped, revoke},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Input{Now: t0, Status: &tt.status, Secret: tt.secret, Desired: desired, PendingGrace: 30 * time.Second,
				NotPermitted: true, CurrentPermitted: tt.currentPermitted, Unsupported: tt.unsupported})
			if got != tt.want {
				t.Errorf("Decide() = %+v, want %+v", got, tt.want)
			}
			tt.status.Conditions = nil
			if in := (Input{Now: t0, Status: &tt.status, Secret: ours(1), Desired: desired, CurrentPermitted: true}); Decide(in).Action == ActionRefuseChange {
				t.Errorf("without NotPermitted, CurrentPermitted alone must not refuse anything")
			}
		})
	}
}
