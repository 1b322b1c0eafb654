package engineref

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

func dur(s string) *tokensv1.Duration { d := tokensv1.Duration(s); return &d }

func TestEvaluate(t *testing.T) {
	policy := &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{
		{Name: "team-a", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"team-a", "team-a-*"}},
			Databases: []string{"team-a-*", "shared"}, MaxExpiresAfter: dur("30d")},
		{Name: "monitoring", Namespaces: &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "monitoring"}}},
			AllowAllDatabases: true, SystemResources: []tokensv1.SystemResource{"health", "metrics"}},
		{Name: "ops", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"ops"}},
			AllowAllSystemResources: true},
		{Name: "named-system", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"sre"}},
			SystemResources: []tokensv1.SystemResource{"*"}, Databases: []string{"*"}, Actions: []tokensv1.Action{tokensv1.ActionRead}},
		{Name: "v1", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"legacy"}}, Databases: []string{"mydb/*"}},
	}}
	catchAll := &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{
		{Name: "prod", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"*-prod"}}, Databases: []string{"prod-*"}},
		{Name: "everyone", Databases: []string{"sandbox"}, MaxExpiresAfter: dur("1d")},
	}}
	monitoring := map[string]string{"role": "monitoring"}
	tests := []struct {
		name   string
		policy *tokensv1.EnginePolicy
		ns     string
		labels map[string]string
		req    Request
		inMsg  string // "" means permitted
	}{
		{name: "no policy permits everything", ns: "x", req: Request{Databases: []string{"*"}}},
		{name: "empty policy permits everything", policy: &tokensv1.EnginePolicy{}, ns: "x", req: Request{Databases: []string{"any"}}},
		{name: "glob database within max", policy: policy, ns: "team-a-dev", req: Request{Databases: []string{"team-a-logs", "shared"}, ExpiresAfter: 24 * time.Hour}},
		{name: "exact max", policy: policy, ns: "team-a", req: Request{Databases: []string{"shared"}, ExpiresAfter: 30 * 24 * time.Hour}},
		{name: "database outside the patterns", policy: policy, ns: "team-a", req: Request{Databases: []string{"team-a-x", "billing"}, ExpiresAfter: time.Hour},
			inMsg: `policy rule "team-a" (the first rule matching namespace team-a) does not permit database "billing" (it permits databases [team-a-*, shared])`},
		{name: "wildcard database needs allowAllDatabases", policy: policy, ns: "team-a", req: Request{Databases: []string{"*"}, ExpiresAfter: time.Hour},
			inMsg: `does not permit every database (databases ["*"]): that needs allowAllDatabases: true`},
		{name: "expiry above max", policy: policy, ns: "team-a", req: Request{Databases: []string{"shared"}, ExpiresAfter: 31 * 24 * time.Hour},
			inMsg: `policy rule "team-a" (the first rule matching namespace team-a) permits at most expiresAfter 30d and the token asks for 31d`},
		{name: "no expiry under a max", policy: policy, ns: "team-a", req: Request{Databases: []string{"shared"}},
			inMsg: "permits at most expiresAfter 30d and the token never expires; set spec.expiresAfter to 30d or less"},
		{name: "selector rule permits the wildcard", policy: policy, ns: "mon", labels: monitoring, req: Request{Databases: []string{"*"}}},
		{name: "selector rule permits a listed system resource", policy: policy, ns: "mon", labels: monitoring, req: Request{SystemResources: []string{"metrics"}}},
		{name: "selector rule refuses another system resource", policy: policy, ns: "mon", labels: monitoring, req: Request{SystemResources: []string{"ping"}},
			inMsg: `policy rule "monitoring" (the first rule matching namespace mon) does not permit system resource "ping" (it permits systemResources [health, metrics])`},
		{name: "listed resources do not permit the wildcard", policy: policy, ns: "mon", labels: monitoring, req: Request{SystemResources: []string{"*"}},
			inMsg: `does not permit every system resource (resources ["*"]): that needs allowAllSystemResources: true`},
		{name: "allowAllSystemResources permits all", policy: policy, ns: "ops", req: Request{SystemResources: []string{"*"}}},
		{name: "allowAllSystemResources permits one", policy: policy, ns: "ops", req: Request{SystemResources: []string{"ready"}}},
		// Issue 16 item 2: the pattern "*" no longer permits the wildcard request; actions are limited.
		{name: "pattern * permits every named database", policy: policy, ns: "sre", req: Request{Databases: []string{"anything"}, Actions: []string{"read"}}},
		{name: "pattern * does not permit the database wildcard", policy: policy, ns: "sre", req: Request{Databases: []string{"*"}, Actions: []string{"read"}},
			inMsg: `policy rule "named-system" (the first rule matching namespace sre) does not permit every database (databases ["*"]): that needs allowAllDatabases: true`},
		{name: "system * pattern permits each resource", policy: policy, ns: "sre", req: Request{SystemResources: []string{"metrics"}, Actions: []string{"read"}}},
		{name: "system * pattern does not permit the wildcard", policy: policy, ns: "sre", req: Request{SystemResources: []string{"*"}, Actions: []string{"read"}},
			inMsg: "needs allowAllSystemResources: true"},
		{name: "read-only rule refuses write", policy: policy, ns: "sre", req: Request{Databases: []string{"a"}, Actions: []string{"read", "write"}},
			inMsg: `policy rule "named-system" (the first rule matching namespace sre) does not permit action "write" (it permits actions [read])`},
		{name: "read-only rule permits read", policy: policy, ns: "sre", req: Request{Databases: []string{"a", "b"}, Actions: []string{"read"}}},
		{name: "no actions asked counts as read", policy: policy, ns: "sre", req: Request{SystemResources: []string{"health"}}},
		{name: "rule without actions permits read and write", policy: policy, ns: "legacy", req: Request{Databases: []string{"mydb/rp"}, Actions: []string{"read", "write"}}},
		{name: "every permission must be permitted", policy: policy, ns: "team-a", req: Request{Databases: []string{"team-a-x", "shared", "other"}, Actions: []string{"write"}, ExpiresAfter: time.Hour},
			inMsg: `does not permit database "other"`},
		{name: "system-only rule refuses databases", policy: policy, ns: "ops", req: Request{Databases: []string{"a"}},
			inMsg: `policy rule "ops" (the first rule matching namespace ops) does not permit database "a" (the rule has no databases)`},
		{name: "database-only rule refuses system tokens", policy: policy, ns: "team-a", req: Request{SystemResources: []string{"health"}, ExpiresAfter: time.Hour},
			inMsg: `does not permit system resource "health" (the rule has no systemResources)`},
		{name: "glob star spans a slash", policy: policy, ns: "legacy", req: Request{Databases: []string{"mydb/autogen"}}},
		{name: "no rule matches", policy: policy, ns: "finance", req: Request{Databases: []string{"a"}},
			inMsg: "no policy rule matches namespace finance (rules: team-a, monitoring, ops, named-system, v1); add a rule for it"},
		{name: "labels not matching", policy: policy, ns: "mon", labels: map[string]string{"role": "web"}, req: Request{Databases: []string{"a"}},
			inMsg: "no policy rule matches namespace mon"},
		{name: "first match decides, not the most permissive", policy: catchAll, ns: "shop-prod", req: Request{Databases: []string{"sandbox"}, ExpiresAfter: time.Hour},
			inMsg: `policy rule "prod" (the first rule matching namespace shop-prod) does not permit database "sandbox"`},
		{name: "rule without namespaces matches the rest", policy: catchAll, ns: "dev", req: Request{Databases: []string{"sandbox"}, ExpiresAfter: time.Hour}},
		{name: "catch-all max applies", policy: catchAll, ns: "dev", req: Request{Databases: []string{"sandbox"}, ExpiresAfter: 48 * time.Hour},
			inMsg: `policy rule "everyone" (the first rule matching namespace dev) permits at most expiresAfter 1d and the token asks for 2d`},
		{name: "a lifetime of part days is shown in hours", policy: catchAll, ns: "dev", req: Request{Databases: []string{"sandbox"}, ExpiresAfter: 36 * time.Hour},
			inMsg: "the token asks for 36h0m0s"},
		{name: "invalid selector refuses", policy: &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{{Name: "bad", Databases: []string{"*"},
			Namespaces: &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}}}}}},
			ns: "x", req: Request{Databases: []string{"a"}}, inMsg: `policy rule "bad" has an invalid namespaces.selector`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Evaluate(tt.policy, tt.ns, tt.labels, tt.req)
			if tt.inMsg == "" {
				if err != nil {
					t.Fatalf("want permitted, got %v", err)
				}
				return
			}
			if reasonOf(err) != tokensv1.ReasonNotPermitted || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v\nwant NotPermitted containing %q", err, tt.inMsg)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"team-*", "team-a", true},
		{"team-*", "team-", true},
		{"team-*", "teams", false},
		{"*-prod", "shop-prod", true},
		{"*-prod", "shop-prod-2", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
		{"mydb/*", "mydb/autogen", true},
		{"*", "db/rp", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"[x]", "x", false}, // only * is special
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}
