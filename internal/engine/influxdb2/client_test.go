package influxdb2_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb2"
	"github.com/tokenops/token-operator/internal/engine/influxdb2/influxdb2test"
)

func dbReq(name string, dbs ...string) engine.MintRequest {
	return engine.MintRequest{Name: name, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: dbs, Actions: []engine.Action{engine.ActionRead, engine.ActionWrite}},
	}}
}

// TestPermissionsUseBucketIDs: buckets are sent as resource.id plus resource.orgID and never by
// name (the OSS server ignores names, which would grant every bucket); the wildcard is the
// bucket type scoped to the org. The org may be configured by ID.
func TestPermissionsUseBucketIDs(t *testing.T) {
	srv := influxdb2test.Start(t)
	srv.CreateBucket("telemetry")
	rec := &httpapi.Recorder{}
	c := newClient(t, srv.URL, srv.OrgID, srv.Token, rec)
	ctx := context.Background()
	for _, req := range []engine.MintRequest{dbReq("k8s.a.one.r1", "telemetry"), dbReq("k8s.a.all.r1", engine.Wildcard)} {
		if _, err := c.Mint(ctx, req); err != nil {
			t.Fatalf("Mint %s: %v", req.Name, err)
		}
	}
	var bodies []map[string]any
	for _, r := range rec.Requests() {
		if r.Method == http.MethodPost {
			var b map[string]any
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, b)
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("%d creates, want 2", len(bodies))
	}
	wantOne := []any{
		map[string]any{"action": "read", "resource": map[string]any{"type": "buckets", "id": srv.BucketID("telemetry"), "orgID": srv.OrgID}},
		map[string]any{"action": "write", "resource": map[string]any{"type": "buckets", "id": srv.BucketID("telemetry"), "orgID": srv.OrgID}},
	}
	wantAll := []any{
		map[string]any{"action": "read", "resource": map[string]any{"type": "buckets", "orgID": srv.OrgID}},
		map[string]any{"action": "write", "resource": map[string]any{"type": "buckets", "orgID": srv.OrgID}},
	}
	for i, want := range [][]any{wantOne, wantAll} {
		got, _ := json.Marshal(bodies[i]["permissions"])
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Errorf("create %d permissions = %s, want %s", i, got, exp)
		}
		if bodies[i]["orgID"] != srv.OrgID {
			t.Errorf("create %d orgID = %v", i, bodies[i]["orgID"])
		}
	}
}

// TestOneAuthorizationPerName: descriptions are not unique on v2, so the adapter keeps at most
// one live authorization per name among the mints of one process, without listing. Across
// processes the name is only ever minted by the worker that recorded it in status.pending
// (docs/design.md §3 step 2); another process's token is found by the recovery listing
// (TestStrayAuthorization).
func TestOneAuthorizationPerName(t *testing.T) {
	srv := influxdb2test.Start(t)
	srv.CreateBucket("telemetry")
	ctx := context.Background()
	const name = "k8s.a.race.r1"
	c := newClient(t, srv.URL, influxdb2test.Org, srv.Token, new(httpapi.Recorder))
	for round := range 20 {
		wins, errs := enginetest.MintConcurrently(ctx, dbReq(name, "telemetry"), c, c, c)
		for _, err := range errs {
			if !engine.IsConflict(err) {
				t.Errorf("round %d: Mint: %v, want success or Conflict", round, err)
			}
		}
		if n := srv.Authorizations(name); wins != 1 || n != 1 {
			t.Fatalf("round %d: %d mints succeeded and %d authorizations exist, want 1 and 1", round, wins, n)
		}
		if err := c.Revoke(ctx, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Counter.Counts()["GET /api/v2/authorizations"]; n != 0 {
		t.Errorf("%d listings for mints and revokes of one process, want none", n)
	}
}

// TestStrayAuthorization: an authorization of the name left by another process (a lost
// attempt) is seen by the listing the engine check keeps: the next mint is a Conflict, Lookup
// finds it, Revoke deletes every authorization of the name.
func TestStrayAuthorization(t *testing.T) {
	srv := influxdb2test.Start(t)
	srv.CreateBucket("telemetry")
	ctx := context.Background()
	const name = "k8s.a.stray.r1"
	a, b := newClient(t, srv.URL, influxdb2test.Org, srv.Token, new(httpapi.Recorder)), newClient(t, srv.URL, influxdb2test.Org, srv.Token, new(httpapi.Recorder))
	first, err := a.Mint(ctx, dbReq(name, "telemetry"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := b.Lookup(ctx, name); err != nil || info.ID != first.ID {
		t.Fatalf("Lookup = %+v, %v; want ID %s", info, err, first.ID)
	}
	if _, err := b.Mint(ctx, dbReq(name, "telemetry")); !engine.IsConflict(err) {
		t.Fatalf("second Mint: %v, want Conflict", err)
	}
	if err := b.Revoke(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if n := srv.Authorizations(name); n != 0 {
		t.Fatalf("%d authorizations left after Revoke", n)
	}
}

// TestErrorMapping: v2's conflict status is 422; an unknown org is Permanent with a reason.
func TestErrorMapping(t *testing.T) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case influxdb2.PathOrgs:
			_, _ = w.Write([]byte(`{"orgs":[{"id":"0123456789abcdef","name":"acme"}]}`))
		case influxdb2.PathBuckets:
			_, _ = w.Write([]byte(`{"buckets":[{"id":"1123456789abcdef","name":"telemetry"}]}`))
		case influxdb2.PathAuthorizations:
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte(`{"authorizations":[]}`))
				return
			}
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"code":"conflict","message":"authorization conflict"}`))
		}
	}))
	defer stub.Close()
	ctx := context.Background()
	if _, err := newClient(t, stub.URL, "acme", "t0ken", new(httpapi.Recorder)).Mint(ctx, dbReq("k8s.a.b.r1", "telemetry")); !engine.IsConflict(err) {
		t.Errorf("422: got %v, want Conflict", err)
	}
	err := newClient(t, stub.URL, "nope", "t0ken", new(httpapi.Recorder)).Check(ctx)
	if !engine.IsPermanent(err) || engine.ReasonOf(err) != influxdb2.ReasonOrganizationNotFound {
		t.Errorf("unknown org: got %v, want Permanent %s", err, influxdb2.ReasonOrganizationNotFound)
	}
}

// TestListing404IsNotATokenGone: a 404 on the authorizations listing (a proxy, a wrong URL) must
// never read as "the token does not exist", or the operator would mint a second one.
func TestListing404IsNotATokenGone(t *testing.T) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == influxdb2.PathOrgs {
			_, _ = w.Write([]byte(`{"orgs":[{"id":"0123456789abcdef","name":"acme"}]}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer stub.Close()
	_, err := newClient(t, stub.URL, "acme", "t0ken", new(httpapi.Recorder)).Lookup(context.Background(), "k8s.a.b.r1")
	if !engine.IsPermanent(err) {
		t.Errorf("Lookup with a 404 listing: %v, want Permanent", err)
	}
}
