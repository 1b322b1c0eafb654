package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
)

var testDesc = enginefactory.Description{Type: "influxdb3", URL: "http://engine:8181",
	Secret: types.NamespacedName{Namespace: "token-operator", Name: "admin"}}

func TestDecideOutcome(t *testing.T) {
	T, F, U := metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown
	tests := []struct {
		name             string
		buildErr, chkErr error
		ready, reachable metav1.ConditionStatus
		reason, reachWhy string
		inMsg            string
	}{
		{"reachable", nil, nil, T, T, tokensv1.ReasonReachable, tokensv1.ReasonReachable, "accepted the credentials in Secret token-operator/admin"},
		{"secret missing", engine.PermanentErrorf("Secret x does not exist").WithReason(tokensv1.ReasonCredentialsNotFound), nil,
			F, U, tokensv1.ReasonCredentialsNotFound, tokensv1.ReasonNotChecked, "does not exist"},
		{"bad CA", engine.PermanentErrorf("caBundle").WithReason(tokensv1.ReasonInvalidConfig), nil,
			F, U, tokensv1.ReasonInvalidConfig, tokensv1.ReasonNotChecked, "caBundle"},
		{"unauthorized", nil, engine.UnauthorizedErrorf("401"), F, F, tokensv1.ReasonUnauthorized, tokensv1.ReasonUnauthorized, "put a valid admin token there"},
		{"permanent", nil, engine.PermanentErrorf("404 not found"), F, T, tokensv1.ReasonEngineRejected, tokensv1.ReasonReachable, "points at a influxdb3 engine"},
		{"transient", nil, engine.Errorf("connection refused"), F, F, tokensv1.ReasonUnreachable, tokensv1.ReasonUnreachable, "retried every 30s"},
		{"untyped", nil, errors.New("boom"), F, F, tokensv1.ReasonUnreachable, tokensv1.ReasonUnreachable, "boom"},
		{"pending", nil, engine.PendingErrorf(time.Second, "starting"), F, F, tokensv1.ReasonUnreachable, tokensv1.ReasonUnreachable, "starting"},
	}
	for _, tt := range tests {
		o := decideOutcome(testDesc, tt.buildErr, tt.chkErr, 30*time.Second)
		if o.ready != tt.ready || o.reachable != tt.reachable || o.reason != tt.reason || o.reachableReason != tt.reachWhy {
			t.Errorf("%s: got %+v", tt.name, o)
		}
		if !strings.Contains(o.message, tt.inMsg) {
			t.Errorf("%s: message %q does not contain %q", tt.name, o.message, tt.inMsg)
		}
	}
	long := decideOutcome(testDesc, nil, errors.New(strings.Repeat("x", 5000)), time.Second)
	if len(long.message) > 2*maxErrorMessage {
		t.Errorf("message not clipped: %d bytes", len(long.message))
	}
}

func TestApplyOutcomeWritesOnlyOnChange(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &tokensv1.EngineStatus{}
	ok := decideOutcome(testDesc, nil, nil, time.Minute)
	if !applyOutcome(st, 1, testDesc, ok, t0) {
		t.Fatal("first outcome reported no change")
	}
	if st.LastCheckedAt == nil || !st.LastCheckedAt.Time.Equal(t0) || st.ObservedGeneration != 1 || st.Type != "influxdb3" || st.URL != testDesc.URL {
		t.Fatalf("status = %+v", st)
	}
	// Same outcome later: nothing changes, not even lastCheckedAt or lastTransitionTime.
	if applyOutcome(st, 1, testDesc, ok, t0.Add(5*time.Minute)) {
		t.Error("a confirming check reported a change")
	}
	if !st.LastCheckedAt.Time.Equal(t0) {
		t.Error("lastCheckedAt moved without a change")
	}
	// New generation, same result: observedGeneration moves, the transition time does not.
	if !applyOutcome(st, 2, testDesc, ok, t0.Add(6*time.Minute)) {
		t.Error("a new generation reported no change")
	}
	c := meta.FindStatusCondition(st.Conditions, tokensv1.ConditionReady)
	if c.ObservedGeneration != 2 || !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("Ready = %+v", c)
	}
	// A failure is a transition.
	bad := decideOutcome(testDesc, nil, engine.UnauthorizedErrorf("401"), time.Minute)
	before := st.DeepCopy()
	t1 := t0.Add(10 * time.Minute)
	if !applyOutcome(st, 2, testDesc, bad, t1) {
		t.Fatal("a failure reported no change")
	}
	c = meta.FindStatusCondition(st.Conditions, tokensv1.ConditionReady)
	if c.Status != metav1.ConditionFalse || !c.LastTransitionTime.Time.Equal(t1) || !st.LastCheckedAt.Time.Equal(t1) {
		t.Errorf("Ready after failure = %+v", c)
	}
	if !readyTransition(before, st) {
		t.Error("readyTransition missed True→False")
	}
	if readyTransition(st, st.DeepCopy()) {
		t.Error("readyTransition fired without a change")
	}
	if !readyTransition(&tokensv1.EngineStatus{}, st) {
		t.Error("readyTransition missed the first condition")
	}
}

func TestJitter(t *testing.T) {
	for range 1000 {
		if d := jitter(5 * time.Minute); d < 270*time.Second || d > 330*time.Second {
			t.Fatalf("jitter(5m) = %s, outside ±10%%", d)
		}
	}
	if jitter(0) != 0 {
		t.Error("jitter(0) != 0")
	}
}

func TestServesNoNamespaceNote(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  tokensv1.GenericEngine
		note bool
	}{
		{"cluster engine without allowedNamespaces", &tokensv1.ClusterTokenEngine{}, true},
		{"cluster engine with names", &tokensv1.ClusterTokenEngine{Spec: tokensv1.ClusterTokenEngineSpec{AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"apps"}}}}, false},
		{"cluster engine with a selector", &tokensv1.ClusterTokenEngine{Spec: tokensv1.ClusterTokenEngineSpec{AllowedNamespaces: &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{}}}}, false},
		{"namespaced engine serves its namespace", &tokensv1.TokenEngine{}, false},
	} {
		if got := servesNoNamespaceNote(tc.obj); (got != "") != tc.note {
			t.Errorf("%s: note %q", tc.name, got)
		}
	}
}
