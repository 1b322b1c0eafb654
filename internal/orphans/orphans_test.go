package orphans

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

func TestParseName(t *testing.T) {
	uid := types.UID("0a1b2c3d-1111-2222-3333-444455556666")
	for _, tc := range []struct {
		name string
		want Name
		ok   bool
	}{
		{lifecycle.TokenName("team-a", "writer", uid, 3), Name{"team-a", "writer", "0a1b2c3d", 3}, true},
		{lifecycle.TokenName("team-a", "web.v2.writer", uid, 12), Name{"team-a", "web.v2.writer", "0a1b2c3d", 12}, true},
		{"k8s.team-a.writer.0a1b2c3d.r1", Name{"team-a", "writer", "0a1b2c3d", 1}, true},
		// Not our form: never swept.
		{"telegraf", Name{}, false},
		{"k8s.", Name{}, false},
		{"k8s.team-a", Name{}, false},
		{"k8s.team-a.writer.r1", Name{}, false},           // no UID part
		{"k8s..writer.0a1b2c3d.r1", Name{}, false},        // no namespace
		{"k8s.team-a..0a1b2c3d.r1", Name{}, false},        // no resource name
		{"k8s.team-a.writer.0a1b2c3.r1", Name{}, false},   // UID part too short
		{"k8s.team-a.writer.0a1b2c3d.1", Name{}, false},   // revision without r
		{"k8s.team-a.writer.0a1b2c3d.r", Name{}, false},   // revision without digits
		{"k8s.team-a.writer.0a1b2c3d.r0", Name{}, false},  // revisions start at 1
		{"k8s.team-a.writer.0a1b2c3d.r01", Name{}, false}, // not how TokenName writes it
		{"k8s.team-a.writer.0a1b2c3d.r1x", Name{}, false},
		{"k8s.team-a.writer.0a1b2c3d.r-1", Name{}, false},
		{"K8S.team-a.writer.0a1b2c3d.r1", Name{}, false},
		{"xk8s.team-a.writer.0a1b2c3d.r1", Name{}, false},
	} {
		got, ok := ParseName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
		if ok && !lifecycle.OwnsTokenName(got.Namespace, got.Resource, uid, tc.name) {
			t.Errorf("ParseName(%q) accepted a name the resource's own check refuses", tc.name)
		}
	}
}

func TestStatusNamesAndUnaccounted(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	st := &tokensv1.TokenStatus{
		Current:  &tokensv1.TokenRecord{TokenName: "k8s.a.w.0a1b2c3d.r3"},
		Pending:  &tokensv1.PendingMint{TokenName: "k8s.a.w.0a1b2c3d.r4"},
		Previous: []tokensv1.TokenRecord{{TokenName: "k8s.a.w.0a1b2c3d.r2"}, {TokenName: ""}},
	}
	if got, want := StatusNames(st), []string{"k8s.a.w.0a1b2c3d.r3", "k8s.a.w.0a1b2c3d.r4", "k8s.a.w.0a1b2c3d.r2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StatusNames = %v, want %v", got, want)
	}
	acc := Accounted{}
	acc.Add(st)
	acc.Add(&tokensv1.TokenStatus{})
	listed := []engine.TokenInfo{
		{Name: "k8s.a.w.0a1b2c3d.r1"},                     // unaccounted
		{Name: "k8s.a.w.0a1b2c3d.r2"},                     // previous
		{Name: "k8s.a.w.0a1b2c3d.r3", ExpiresAt: &future}, // current
		{Name: "k8s.a.w.0a1b2c3d.r4"},                     // pending
		{Name: "k8s.a.w.0a1b2c3d.r5", ExpiresAt: &past},   // expired: refused already
		{Name: "k8s.a.w.0a1b2c3d.r6", ExpiresAt: &future}, // unaccounted
		{Name: "k8s.b.gone.99999999.r1"},                  // unaccounted, resource gone
		{Name: "_admin"},                                  // not ours
		{Name: "k8s.a.w.r1"},                              // not our form
	}
	var got []string
	for _, tok := range Unaccounted(listed, acc, now) {
		got = append(got, tok.Name)
	}
	want := []string{"k8s.a.w.0a1b2c3d.r1", "k8s.a.w.0a1b2c3d.r6", "k8s.b.gone.99999999.r1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unaccounted = %v, want %v", got, want)
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	grace := 5 * time.Minute
	served := func(ns string) bool { return ns == "a" }
	tok := func(name string, created time.Time) Token {
		n, ok := ParseName(name)
		if !ok {
			t.Fatalf("bad test name %q", name)
		}
		return Token{TokenInfo: engine.TokenInfo{Name: name, CreatedAt: created}, Parsed: n}
	}
	const name = "k8s.a.w.0a1b2c3d.r1"
	old := now.Add(-time.Hour)
	for _, tc := range []struct {
		why          string
		tok          Token
		serves       func(string) bool
		firstSeen    *time.Time
		orphan       bool
		suspectSince *time.Time // nil: not kept as a suspect
	}{
		{why: "first sight: only a suspect", tok: tok(name, old), serves: served, suspectSince: &now},
		{why: "seen a grace ago and old: orphan", tok: tok(name, old), serves: served, firstSeen: ptr(now.Add(-grace)), orphan: true, suspectSince: ptr(now.Add(-grace))},
		{why: "seen less than a grace ago: not yet", tok: tok(name, old), serves: served, firstSeen: ptr(now.Add(-grace + time.Second)), suspectSince: ptr(now.Add(-grace + time.Second))},
		{why: "created within the grace (a mint in flight, cache behind): not yet", tok: tok(name, now.Add(-time.Minute)), serves: served, firstSeen: ptr(now.Add(-time.Hour)), suspectSince: ptr(now.Add(-time.Hour))},
		{why: "no creation time (InfluxDB 1.x): the two sweeps decide", tok: tok(name, time.Time{}), serves: served, firstSeen: ptr(now.Add(-grace)), orphan: true, suspectSince: ptr(now.Add(-grace))},
		{why: "first seen in the future (clock stepped back): starts again", tok: tok(name, old), serves: served, firstSeen: ptr(now.Add(time.Hour)), suspectSince: &now},
		{why: "namespace not served: not this engine's to judge", tok: tok(name, old), serves: func(string) bool { return false }, firstSeen: ptr(now.Add(-time.Hour))},
		{why: "no Serves: nothing is served", tok: tok(name, old), firstSeen: ptr(now.Add(-time.Hour))},
	} {
		t.Run(tc.why, func(t *testing.T) {
			in := Input{Now: now, Grace: grace, Unaccounted: []Token{tc.tok}, Serves: tc.serves, Suspects: map[string]time.Time{}}
			if tc.firstSeen != nil {
				in.Suspects[name] = *tc.firstSeen
			}
			res := Decide(in)
			if got := len(res.Orphans) == 1; got != tc.orphan {
				t.Errorf("orphan = %v, want %v", got, tc.orphan)
			}
			since, kept := res.Suspects[name]
			switch {
			case tc.suspectSince == nil && kept:
				t.Errorf("kept as a suspect since %v, want dropped", since)
			case tc.suspectSince != nil && (!kept || !since.Equal(*tc.suspectSince)):
				t.Errorf("suspect since %v (kept %v), want %v", since, kept, *tc.suspectSince)
			}
		})
	}

	// A suspect that is accounted for again, or gone from the engine, drops out; orphans are sorted.
	res := Decide(Input{Now: now, Grace: grace, Serves: served,
		Unaccounted: []Token{tok("k8s.a.z.0a1b2c3d.r1", old), tok("k8s.a.b.0a1b2c3d.r1", old)},
		Suspects:    map[string]time.Time{"k8s.a.gone.0a1b2c3d.r1": old, "k8s.a.z.0a1b2c3d.r1": old, "k8s.a.b.0a1b2c3d.r1": old}})
	if len(res.Orphans) != 2 || res.Orphans[0].Name != "k8s.a.b.0a1b2c3d.r1" || res.Orphans[1].Name != "k8s.a.z.0a1b2c3d.r1" {
		t.Errorf("orphans = %v, want b then z", res.Orphans)
	}
	if _, kept := res.Suspects["k8s.a.gone.0a1b2c3d.r1"]; kept || len(res.Suspects) != 2 {
		t.Errorf("suspects = %v, want only the two still unaccounted", res.Suspects)
	}
}

func TestConfirm(t *testing.T) {
	const name = "k8s.a.w.0a1b2c3d.r1"
	n, _ := ParseName(name)
	tok := Token{TokenInfo: engine.TokenInfo{Name: name}, Parsed: n}
	accounted := Accounted{}
	accounted.Add(&tokensv1.TokenStatus{Pending: &tokensv1.PendingMint{TokenName: name}})
	for _, tc := range []struct {
		why   string
		fresh Fresh
		want  Verdict
	}{
		{"nothing names it", Fresh{Accounted: Accounted{}, SecretTokenNames: map[string]bool{"k8s.a.w.0a1b2c3d.r2": true}}, VerdictOrphan},
		{"zero Fresh: nothing names it", Fresh{}, VerdictOrphan},
		{"a fresh status names it: the cache was behind", Fresh{Accounted: accounted}, VerdictAccounted},
		{"a Secret Retain handed over names it", Fresh{SecretTokenNames: map[string]bool{name: true}}, VerdictRetained},
	} {
		if got := Confirm(tok, tc.fresh); got != tc.want {
			t.Errorf("%s: Confirm = %s, want %s", tc.why, got, tc.want)
		}
	}
}

func ptr(t time.Time) *time.Time { return &t }

// A first mint's intent annotation accounts for its name until status records it (docs/design.md
// §3 step 2); one naming another resource's token accounts for nothing.
func TestAddResourceCountsTheIntent(t *testing.T) {
	obj := &metav1.ObjectMeta{Namespace: "a", Name: "w", UID: "0a1b2c3d-ffff"}
	own := lifecycle.TokenName("a", "w", obj.UID, 1)
	intent := func(name string) string {
		return `{"revision":1,"tokenName":"` + name + `","startedAt":"2026-01-01T12:00:00Z"}`
	}
	obj.Annotations = map[string]string{tokensv1.PendingMintAnnotation: intent(own)}
	acc := Accounted{}
	acc.AddResource(obj, &tokensv1.TokenStatus{})
	if !acc.Has(own) {
		t.Errorf("the intent's token %q is not accounted for", own)
	}
	obj.Annotations[tokensv1.PendingMintAnnotation] = intent("k8s.a.other.0a1b2c3d.r1")
	acc = Accounted{}
	acc.AddResource(obj, &tokensv1.TokenStatus{})
	if len(acc) != 0 {
		t.Errorf("a forged intent is accounted for: %v", acc)
	}
	acc.AddResource(obj, &tokensv1.TokenStatus{Revision: 1, Current: &tokensv1.TokenRecord{TokenName: own}})
	if !acc.Has(own) || len(acc) != 1 {
		t.Errorf("accounted %v, want only the recorded %q", acc, own)
	}
}
