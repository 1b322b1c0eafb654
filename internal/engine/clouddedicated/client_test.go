package clouddedicated_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated/clouddedicatedtest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

func readReq(name string, ttl time.Duration) engine.MintRequest {
	return engine.MintRequest{Name: name, TTL: ttl, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry"}, Actions: []engine.Action{engine.ActionRead}},
	}}
}

// TestActivationNotice: a new token may be refused for a while; Mint says so in Notice.
func TestActivationNotice(t *testing.T) {
	srv := clouddedicatedtest.Start(t)
	srv.SetActivationDelay(300 * time.Millisecond)
	c := newClient(t, srv, srv.URL, srv.ManagementToken, new(httpapi.Recorder))
	m, err := c.Mint(context.Background(), readReq("k8s.a.new.r1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if m.Notice != clouddedicated.ActivationNotice || !strings.Contains(m.Notice, "minutes") {
		t.Errorf("Notice = %q", m.Notice)
	}
	read := func() bool {
		return authorize(t, srv, m.Token, engine.ResourceDatabase, "telemetry", engine.ActionRead)
	}
	if read() {
		t.Error("the token worked before activation")
	}
	time.Sleep(350 * time.Millisecond)
	if !read() {
		t.Error("the token does not work after activation")
	}
}

// TestExpiresAtBody: expiresAt is sent in whole seconds, rounded up, and omitted without a TTL.
func TestExpiresAtBody(t *testing.T) {
	srv := clouddedicatedtest.Start(t)
	rec := &httpapi.Recorder{}
	c := newClient(t, srv, srv.URL, srv.ManagementToken, rec)
	ctx := context.Background()
	before := time.Now()
	for _, r := range []engine.MintRequest{readReq("k8s.a.ttl.r1", 90*time.Minute+300*time.Millisecond), readReq("k8s.a.never.r1", 0)} {
		if _, err := c.Mint(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []map[string]any
	for _, r := range rec.Requests() {
		if r.Method == http.MethodPost {
			var b map[string]any
			_ = json.Unmarshal(r.Body, &b)
			bodies = append(bodies, b)
		}
	}
	exp, err := time.Parse(time.RFC3339, bodies[0]["expiresAt"].(string))
	if err != nil || exp.Nanosecond() != 0 || exp.Before(before.Add(90*time.Minute+300*time.Millisecond)) || exp.After(time.Now().Add(90*time.Minute+1300*time.Millisecond)) {
		t.Errorf("expiresAt = %v (%v), want now+TTL rounded up to the second", bodies[0]["expiresAt"], err)
	}
	if _, ok := bodies[1]["expiresAt"]; ok {
		t.Errorf("expiresAt sent for a token without TTL: %v", bodies[1]["expiresAt"])
	}
}

// TestRevokedTokensAreGone: revoked tokens stay listed with revokedAt; they are not tokens any
// more, so Lookup, List and the next Mint ignore them.
func TestRevokedTokensAreGone(t *testing.T) {
	srv := clouddedicatedtest.Start(t)
	c := newClient(t, srv, srv.URL, srv.ManagementToken, new(httpapi.Recorder))
	ctx := context.Background()
	const name = "k8s.a.revoked.r1"
	if _, err := c.Mint(ctx, readReq(name, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, name); !engine.IsNotFound(err) {
		t.Errorf("Lookup of a revoked token: %v, want NotFound", err)
	}
	if infos, err := c.List(ctx, name); err != nil || len(infos) != 0 {
		t.Errorf("List = %v, %v; want none", infos, err)
	}
	if _, err := c.Mint(ctx, readReq(name, 0)); err != nil {
		t.Errorf("Mint after Revoke: %v", err)
	}
	if n := srv.Live(name); n != 1 {
		t.Errorf("%d live tokens, want 1", n)
	}
}

// TestUnknownClusterIsPermanent: a 404 on the tokens collection is a configuration error, never
// a NotFound token.
func TestUnknownClusterIsPermanent(t *testing.T) {
	srv := clouddedicatedtest.Start(t)
	c, err := clouddedicated.New(clouddedicated.Config{Config: httpapi.Config{URL: srv.URL}, AccountID: srv.AccountID,
		ClusterID: "00000000-0000-4000-8000-000000000000", ManagementToken: engine.Plaintext(srv.ManagementToken)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, lookupErr := c.Lookup(ctx, "k8s.a.b.r1")
	for op, err := range map[string]error{"Check": c.Check(ctx), "Lookup": lookupErr} {
		if !engine.IsPermanent(err) || engine.ReasonOf(err) != clouddedicated.ReasonClusterNotFound {
			t.Errorf("%s: %v, want Permanent %s", op, err, clouddedicated.ReasonClusterNotFound)
		}
	}
}
