package influxdb2_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb2"
	"github.com/tokenops/token-operator/internal/engine/influxdb2/influxdb2test"
	"github.com/tokenops/token-operator/internal/engine/testserver"
)

// scaleTokens is the size: 10,000 tokens in one org (docs/design.md §8).
const scaleTokens = 10_000

// TestRequestsAtScale counts the server's requests for 10,000 mints, lookups and revokes: each
// is O(1) in the number of authorizations (one create, one bucket lookup, one read or delete by
// ID), the happy path never lists, a restarted process's lookups share one listing, and its
// revokes by recorded id list nothing. Before issue 19 every one of these calls listed the
// org's authorizations (~10⁸ objects listed here).
func TestRequestsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tokens; -short")
	}
	srv := influxdb2test.Start(t)
	srv.CreateBucket("telemetry")
	ctx := context.Background()
	names := make([]string, scaleTokens)
	for i := range names {
		names[i] = fmt.Sprintf("k8s.scale.t%05d.0123abcd.r1", i)
	}
	c := scaleClient(t, srv)
	testserver.Each(t, names, func(n string) error { _, err := c.Mint(ctx, dbReq(n, "telemetry")); return err })
	testserver.Each(t, names, func(n string) error { _, err := c.Lookup(ctx, n); return err })
	testserver.WantCounts(t, "10,000 mints and lookups", srv.Counter.Counts(), map[string]int{
		"GET " + influxdb2.PathOrgs:                     1,
		"GET " + influxdb2.PathBuckets:                  scaleTokens,
		"POST " + influxdb2.PathAuthorizations:          scaleTokens,
		"GET " + influxdb2.PathAuthorizations + "/{id}": scaleTokens,
	})

	// A restarted process: its engine check lists once, then every lookup is answered from
	// that listing (ListingMaxAge) and every revoke deletes by ID.
	d := scaleClient(t, srv)
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	testserver.Each(t, names, func(n string) error { _, err := d.Lookup(ctx, n); return err })
	testserver.Each(t, names, func(n string) error { return d.Revoke(ctx, n, "") })
	testserver.WantCounts(t, "a restarted process's check, 10,000 lookups and revokes", srv.Counter.Counts(), map[string]int{
		"GET " + influxdb2.PathOrgs:                        1,
		"GET " + influxdb2.PathAuthorizations:              1,
		testserver.ListedObjects:                           scaleTokens + 1, // and the operator token
		"DELETE " + influxdb2.PathAuthorizations + "/{id}": scaleTokens,
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
	ids := testserver.MintEach(t, again, func(n string) (string, error) { m, err := c.Mint(ctx, dbReq(n, "telemetry")); return m.ID, err })
	srv.Counter.Counts()
	e := scaleClient(t, srv)
	testserver.Each(t, again, func(n string) error { return e.Revoke(ctx, n, ids[n]) })
	testserver.WantCounts(t, "a restarted process's 10,000 revokes by recorded id", srv.Counter.Counts(), map[string]int{
		"GET " + influxdb2.PathAuthorizations + "/{id}":    scaleTokens,
		"DELETE " + influxdb2.PathAuthorizations + "/{id}": scaleTokens,
	})
	if left, err := scaleClient(t, srv).List(ctx, "k8s.scale."); err != nil || len(left) != 0 {
		t.Fatalf("after the revokes by id: %d tokens left (%v), want none", len(left), err)
	}
}

// scaleClient is a client without a request recorder (it would keep 40,000 requests).
func scaleClient(t *testing.T, srv *influxdb2test.Server) *influxdb2.Client {
	t.Helper()
	c, err := influxdb2.New(influxdb2.Config{Config: httpapi.Config{URL: srv.URL}, Org: influxdb2test.Org, Token: engine.Plaintext(srv.Token)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
