package clouddedicated_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated/clouddedicatedtest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/testserver"
)

// scaleTokens is the size: 10,000 tokens in one cluster (docs/design.md §8).
const scaleTokens = 10_000

// Routes of the test server, as its Counter names them.
const (
	routeTokens = "/api/v0/accounts/{account}/clusters/{cluster}/tokens"
	routeToken  = routeTokens + "/{id}"
)

// TestRequestsAtScale counts the Management API's requests for 10,000 mints, lookups and
// revokes: one create, read or delete by ID each, no listing on the happy path, one listing for
// a restarted process's lookups, and none for its revokes by recorded id. Before issue 19 every
// one of these calls listed the cluster's tokens (~10⁸ objects listed here).
func TestRequestsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tokens; -short")
	}
	srv := clouddedicatedtest.Start(t)
	ctx := context.Background()
	names := make([]string, scaleTokens)
	for i := range names {
		names[i] = fmt.Sprintf("k8s.scale.t%05d.0123abcd.r1", i)
	}
	c := scaleClient(t, srv)
	testserver.Each(t, names, func(n string) error { _, err := c.Mint(ctx, readReq(n, 0)); return err })
	testserver.Each(t, names, func(n string) error { _, err := c.Lookup(ctx, n); return err })
	testserver.WantCounts(t, "10,000 mints and lookups", srv.Counter.Counts(), map[string]int{
		"POST " + routeTokens: scaleTokens,
		"GET " + routeToken:   scaleTokens,
	})

	d := scaleClient(t, srv) // a restarted process
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	testserver.Each(t, names, func(n string) error { _, err := d.Lookup(ctx, n); return err })
	testserver.Each(t, names, func(n string) error { return d.Revoke(ctx, n, "") })
	testserver.WantCounts(t, "a restarted process's check, 10,000 lookups and revokes", srv.Counter.Counts(), map[string]int{
		"GET " + routeTokens:     1,
		testserver.ListedObjects: scaleTokens,
		"DELETE " + routeToken:   scaleTokens,
	})
	if _, err := d.Lookup(ctx, names[0]); !engine.IsNotFound(err) {
		t.Fatalf("Lookup after Revoke: %v, want NotFound", err)
	}

	// A restarted process that revokes by the ids status recorded (renewals, expiries and
	// deletions after a restart) without looking up first: a read that confirms the name and a
	// delete each, no listing.
	again := make([]string, scaleTokens)
	for i := range again {
		again[i] = fmt.Sprintf("k8s.scale.t%05d.0123abcd.r2", i)
	}
	ids := testserver.MintEach(t, again, func(n string) (string, error) { m, err := c.Mint(ctx, readReq(n, 0)); return m.ID, err })
	srv.Counter.Counts()
	e := scaleClient(t, srv)
	testserver.Each(t, again, func(n string) error { return e.Revoke(ctx, n, ids[n]) })
	testserver.WantCounts(t, "a restarted process's 10,000 revokes by recorded id", srv.Counter.Counts(), map[string]int{
		"GET " + routeToken:    scaleTokens,
		"DELETE " + routeToken: scaleTokens,
	})
	if left, err := scaleClient(t, srv).List(ctx, "k8s.scale."); err != nil || len(left) != 0 {
		t.Fatalf("after the revokes by id: %d tokens left (%v), want none", len(left), err)
	}
}

// scaleClient is a client without a request recorder (it would keep 40,000 requests).
func scaleClient(t *testing.T, srv *clouddedicatedtest.Server) *clouddedicated.Client {
	t.Helper()
	c, err := clouddedicated.New(clouddedicated.Config{Config: httpapi.Config{URL: srv.URL},
		AccountID: srv.AccountID, ClusterID: srv.ClusterID, ManagementToken: engine.Plaintext(srv.ManagementToken)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
