package engineref

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

func TestPermitsByName(t *testing.T) {
	tests := []struct {
		patterns []string
		ns       string
		want     bool
	}{
		{[]string{"*"}, "anything", true},
		{[]string{"team-*"}, "team-a", true},
		{[]string{"team-*"}, "team-", true},
		{[]string{"team-*"}, "teams", false},
		{[]string{"monitoring"}, "monitoring", true},
		{[]string{"monitoring"}, "monitoring2", false},
		{[]string{"a", "b-*"}, "b-x", true},
		{[]string{"*-prod"}, "shop-prod", true},
		{[]string{"[bad"}, "[bad", false},
		{nil, "x", false},
		{[]string{}, "x", false},
	}
	for _, tt := range tests {
		if got := PermitsByName(tt.patterns, tt.ns); got != tt.want {
			t.Errorf("PermitsByName(%q, %q) = %v, want %v", tt.patterns, tt.ns, got, tt.want)
		}
	}
}

func TestPermitsByLabels(t *testing.T) {
	tests := []struct {
		name    string
		sel     *metav1.LabelSelector
		labels  map[string]string
		want    bool
		wantErr bool
	}{
		{"match labels", &metav1.LabelSelector{MatchLabels: map[string]string{"tokens": "yes"}}, map[string]string{"tokens": "yes"}, true, false},
		{"no match", &metav1.LabelSelector{MatchLabels: map[string]string{"tokens": "yes"}}, map[string]string{"tokens": "no"}, false, false},
		{"no labels", &metav1.LabelSelector{MatchLabels: map[string]string{"tokens": "yes"}}, nil, false, false},
		{"expression", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}, map[string]string{"team": "b"}, true, false},
		{"empty selector matches all", &metav1.LabelSelector{}, nil, true, false},
		{"invalid", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}, nil, false, true},
	}
	for _, tt := range tests {
		got, err := PermitsByLabels(tt.sel, tt.labels)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: got %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func cte(name string, annotations map[string]string) tokensv1.ClusterTokenEngine {
	return tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Generation: 1}}
}

func TestPickDefault(t *testing.T) {
	if _, err := PickDefault(nil); reasonOf(err) != tokensv1.ReasonEngineNotFound || !strings.Contains(err.Error(), "kubectl annotate clustertokenengine") {
		t.Errorf("no default: %v", err)
	}
	got, err := PickDefault([]tokensv1.ClusterTokenEngine{cte("only", nil)})
	if err != nil || got.Name != "only" {
		t.Errorf("one default: %v, %v", got, err)
	}
	_, err = PickDefault([]tokensv1.ClusterTokenEngine{cte("b", nil), cte("a", nil)})
	if reasonOf(err) != tokensv1.ReasonMultipleDefaultEngines || !strings.Contains(err.Error(), "(a, b)") {
		t.Errorf("two defaults: %v", err)
	}
}

func ready(e *tokensv1.ClusterTokenEngine, status metav1.ConditionStatus, reason string, gen int64) *tokensv1.ClusterTokenEngine {
	e.Status.ObservedGeneration = gen
	e.Status.Conditions = []metav1.Condition{{Type: tokensv1.ConditionReady, Status: status, Reason: reason, Message: "the message", ObservedGeneration: gen}}
	return e
}

func TestReadiness(t *testing.T) {
	fresh := cte("e", nil)
	tests := []struct {
		name  string
		obj   *tokensv1.ClusterTokenEngine
		want  bool
		inMsg string
	}{
		{"never checked", &fresh, false, "has not been checked yet"},
		{"ready", ready(&tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: "e", Generation: 1}}, metav1.ConditionTrue, tokensv1.ReasonReachable, 1), true, ""},
		{"ready for an older generation", ready(&tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: "e", Generation: 2}}, metav1.ConditionTrue, tokensv1.ReasonReachable, 1), false, "not been re-checked"},
		{"not ready", ready(&tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: "e", Generation: 1}}, metav1.ConditionFalse, tokensv1.ReasonUnauthorized, 1), false, "not Ready (Unauthorized: the message); see kubectl describe clustertokenengine e"},
	}
	for _, tt := range tests {
		got, msg := Readiness(tt.obj)
		if got != tt.want || !strings.Contains(msg, tt.inMsg) {
			t.Errorf("%s: got %v %q", tt.name, got, msg)
		}
	}
}

func reasonOf(err error) string {
	if e, ok := engine.AsUnusable(err); ok {
		return e.Reason
	}
	return ""
}
