package engine_test

import (
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
)

func TestAllows(t *testing.T) {
	perms := []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"a", "b"}, Actions: []engine.Action{engine.ActionRead}},
		{Type: engine.ResourceDatabase, Names: []string{engine.Wildcard}, Actions: []engine.Action{engine.ActionWrite}},
		{Type: engine.ResourceSystem, Names: []string{"metrics"}, Actions: []engine.Action{engine.ActionRead}},
	}
	for _, tc := range []struct {
		t      engine.ResourceType
		name   string
		a      engine.Action
		expect bool
	}{
		{engine.ResourceDatabase, "a", engine.ActionRead, true},
		{engine.ResourceDatabase, "c", engine.ActionRead, false},
		{engine.ResourceDatabase, "c", engine.ActionWrite, true},
		{engine.ResourceSystem, "metrics", engine.ActionRead, true},
		{engine.ResourceSystem, "health", engine.ActionRead, false},
		{engine.ResourceSystem, "a", engine.ActionRead, false},
	} {
		if got := engine.Allows(perms, tc.t, tc.name, tc.a); got != tc.expect {
			t.Errorf("Allows(%s, %s, %s) = %v", tc.t, tc.name, tc.a, got)
		}
	}
}

func TestValidateAcceptsDesignShapes(t *testing.T) {
	for _, p := range []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry", "logs"}, Actions: []engine.Action{engine.ActionWrite}},
		{Type: engine.ResourceDatabase, Names: []string{engine.Wildcard}, Actions: []engine.Action{engine.ActionRead, engine.ActionWrite}},
		{Type: engine.ResourceSystem, Names: []string{"health", "metrics", "ping", "ready"}, Actions: []engine.Action{engine.ActionRead}},
		{Type: engine.ResourceSystem, Names: []string{engine.Wildcard}, Actions: []engine.Action{engine.ActionRead}},
	} {
		req := engine.MintRequest{Name: "n", Permissions: []engine.Permission{p}, TTL: time.Hour}
		if err := req.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestExpiresAt(t *testing.T) {
	now := time.Unix(100, 0)
	if engine.ExpiresAt(now, 0) != nil {
		t.Error("zero TTL must mean never")
	}
	if got := engine.ExpiresAt(now, time.Minute); got == nil || !got.Equal(now.Add(time.Minute)) {
		t.Errorf("ExpiresAt = %v", got)
	}
}
