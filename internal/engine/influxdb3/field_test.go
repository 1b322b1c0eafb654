package influxdb3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/engine/influxdb3/influxdb3test"
)

// TestPermissionFieldFallback: the create body names the resource list `resource_names` (the
// spec's); an Enterprise build that parses `resource_identifier` instead refuses it naming a
// field (400 "missing field", or 422 "unknown field"), and the adapter sends the other name once
// and keeps it for that engine: the first mint costs two requests, the next ones one. A server
// of each variant proves both work.
func TestPermissionFieldFallback(t *testing.T) {
	const path = "POST " + influxdb3.PathCreateToken
	for _, tc := range []struct {
		variant       influxdb3test.Variant
		first, second int // requests of the first and the second mint
	}{
		{influxdb3test.Variant{Field: influxdb3.FieldResourceNames}, 1, 1},
		{influxdb3test.Variant{Field: influxdb3.FieldResourceIdentifier}, 2, 1},
		{influxdb3test.Variant{Field: influxdb3.FieldResourceIdentifier, Strict: true}, 2, 1},
		{influxdb3test.Variant{Field: influxdb3.FieldResourceNames, Strict: true}, 1, 1},
	} {
		t.Run(fmt.Sprintf("%s strict=%t", tc.variant.Field, tc.variant.Strict), func(t *testing.T) {
			srv := influxdb3test.Start(t, tc.variant)
			c, err := influxdb3.New(httpapi.Config{URL: srv.URL}, engine.Plaintext(srv.AdminToken))
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []int{tc.first, tc.second} {
				name := fmt.Sprintf("k8s.ns.t%d.0123abcd.r1", i)
				req := engine.MintRequest{Name: name, Permissions: []engine.Permission{{Type: engine.ResourceDatabase,
					Names: []string{"telemetry", "logs"}, Actions: []engine.Action{engine.ActionWrite}}}}
				m, err := c.Mint(context.Background(), req)
				if err != nil {
					t.Fatalf("mint %d: %v", i, err)
				}
				if m.Token == "" || m.Name != name {
					t.Errorf("mint %d: %+v", i, m)
				}
				if got := srv.Granted(name); !slices.Equal(got, []string{"telemetry", "logs"}) {
					t.Errorf("mint %d: the server granted %v, want [telemetry logs]", i, got)
				}
				if n := srv.Counter.Counts()[path]; n != want {
					t.Errorf("mint %d: %d requests, want %d", i, n, want)
				}
			}
		})
	}
}

// TestPermissionFieldNoLoop: a server that refuses both names is asked twice, not more, and the
// error is its refusal (Permanent); other 400s are never retried (TestMintErrors).
func TestPermissionFieldNoLoop(t *testing.T) {
	s, c := newStub(t, 400, "missing field `resource_names`")
	_, err := c.Mint(context.Background(), mintReq(0))
	if !engine.IsPermanent(err) {
		t.Fatalf("Mint: %v, want Permanent", err)
	}
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2 (one per field name)", n)
	}
}

// TestPermissionFieldRetriesOnlyFieldRefusals: a refusal that mentions a field without being
// serde's refusal of it (a bad value in resource_names) is the engine's answer, not a sign that
// it parses the other name: one attempt, and the user reads that refusal.
func TestPermissionFieldRetriesOnlyFieldRefusals(t *testing.T) {
	const refusal = `{"error":"permissions[0]: resource_names[0]: resource name must not contain ',' or ':'"}`
	s, c := newStub(t, 400, refusal)
	_, err := c.Mint(context.Background(), mintReq(0))
	if !engine.IsPermanent(err) || !strings.Contains(err.Error(), "must not contain") {
		t.Fatalf("Mint: %v, want the engine's refusal as a Permanent error", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

// TestPermissionFieldKeptOnlyWhenParsed: the other name is kept for the engine only once an
// answer shows that the engine parsed it (created, or a duplicate name); an outage on the retry
// says nothing, so the next mint asks with the spec's name again.
func TestPermissionFieldKeptOnlyWhenParsed(t *testing.T) {
	var identifierCalls atomic.Int32
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		if !bytes.Contains(b, []byte(influxdb3.FieldResourceIdentifier)) {
			http.Error(w, "Json deserialize error: permissions[0]: missing field `resource_identifier`", http.StatusBadRequest)
			return
		}
		if identifierCalls.Add(1) == 1 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(created))
	}))
	t.Cleanup(srv.Close)
	c, err := influxdb3.New(httpapi.Config{URL: srv.URL, Backoff: time.Millisecond}, admin)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		ok       bool
		requests int32
	}{{false, 2}, {true, 2}, {true, 1}} {
		_, err := c.Mint(context.Background(), mintReq(0))
		if (err == nil) != want.ok {
			t.Fatalf("mint %d: %v, want success %t", i, err, want.ok)
		}
		if n := requests.Swap(0); n != want.requests {
			t.Errorf("mint %d: %d requests, want %d", i, n, want.requests)
		}
	}
}
