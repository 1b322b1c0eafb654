package lifecycle

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

func TestSamePermissions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", "db:a,b:read,write", "db:a,b:read,write", true},
		{"actions reordered", "db:a:write,read", "db:a:read,write", true},
		{"databases reordered", "db:b,a:read", "db:a,b:read", true},
		{"permissions reordered", "db:a:read system:metrics:read", "system:metrics:read db:a:read", true},
		{"everything reordered", "db:logs,telemetry:write,read db:*:read", "db:*:read db:telemetry,logs:read,write", true},
		{"repeats", "db:a,a:read,read", "db:a:read", true},
		{"another database", "db:a:read", "db:b:read", false},
		{"another action", "db:a:read", "db:a:read,write", false},
		{"split is not merged", "db:a:read db:b:read", "db:a,b:read", false},
		{"not a summary compares as written", "garbage", "garbage", true},
		{"not a summary differs", "garbage", "db:a:read", false},
	}
	for _, tt := range tests {
		if got := SamePermissions(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: SamePermissions(%q, %q) = %v, want %v", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCanonicalSummary(t *testing.T) {
	if got, want := CanonicalSummary("system:ready,health:read db:z,a:write,read"), "db:a,z:read,write system:health,ready:read"; got != want {
		t.Errorf("CanonicalSummary = %q, want %q", got, want)
	}
}

// A spec whose lists are reordered (as GitOps tools do), against a status minted from the old
// order in the summary format earlier releases wrote, is no spec change: no successor.
func TestDecideReorderedPermissionsMintNoSuccessor(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	minted := Summarize([]engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry", "logs"}, Actions: []engine.Action{engine.ActionWrite, engine.ActionRead}},
		{Type: engine.ResourceDatabase, Names: []string{"*"}, Actions: []engine.Action{engine.ActionRead}},
	})
	reordered := Summarize([]engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"*"}, Actions: []engine.Action{engine.ActionRead}},
		{Type: engine.ResourceDatabase, Names: []string{"logs", "telemetry"}, Actions: []engine.Action{engine.ActionRead, engine.ActionWrite}},
	})
	if minted == reordered {
		t.Fatalf("the test needs summaries that differ as strings: %q", minted)
	}
	in := Input{
		Now: now,
		Status: &tokensv1.TokenStatus{Revision: 1, Current: &tokensv1.TokenRecord{
			TokenName: "k8s.ns.t.uid.r1", Revision: 1, Permissions: minted, Fingerprint: "fp",
			MintedAt: &metav1.Time{Time: now.Add(-time.Hour)},
		}},
		Secret:  SecretView{Exists: true, Ours: true, HasToken: true, Revision: 1, TokenName: "k8s.ns.t.uid.r1", Fingerprint: "fp"},
		Desired: Desired{Permissions: reordered},
	}
	if d := Decide(in); d.Action == ActionSuccessor {
		t.Fatalf("Decide = %+v: a reordered spec minted a successor", d)
	}
	in.Desired.Permissions = Summarize([]engine.Permission{{Type: engine.ResourceDatabase, Names: []string{"logs"}, Actions: []engine.Action{engine.ActionRead}}})
	if d := Decide(in); d.Action != ActionSuccessor || d.Why != WhySpecChanged {
		t.Fatalf("Decide = %+v: a changed spec must mint a successor", d)
	}
}
