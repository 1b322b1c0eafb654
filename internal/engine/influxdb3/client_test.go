package influxdb3_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
)

const admin = engine.Plaintext("apiv3_AdminTokenForUnitTests0123456789abcdefABCDEFxyz")

// stub is an engine answering every request with one canned reply, recording what it got.
type stub struct {
	status int
	body   string
	calls  atomic.Int32
	last   atomic.Pointer[http.Request]
	bodies chan []byte
}

func newStub(t *testing.T, status int, body string) (*stub, *influxdb3.Client) {
	t.Helper()
	s := &stub{status: status, body: body, bodies: make(chan []byte, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.last.Store(r)
		b, _ := io.ReadAll(r.Body)
		select {
		case s.bodies <- b:
		default:
		}
		w.Header().Set("Content-Type", "json") // Core's odd header (docs/engines/facts.md §1): never sniffed
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(s.body))
	}))
	t.Cleanup(srv.Close)
	c, err := influxdb3.New(httpapi.Config{URL: srv.URL, Backoff: time.Millisecond}, admin)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func mintReq(ttl time.Duration) engine.MintRequest {
	return engine.MintRequest{Name: "k8s.ns.a.12345678.r1", TTL: ttl, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"telemetry", "logs"}, Actions: []engine.Action{engine.ActionRead, engine.ActionWrite}},
	}}
}

const created = `{"id":7,"name":"k8s.ns.a.12345678.r1","token":"apiv3_NewTokenabcDEF0123456789xyzXYZ","hash":"ab","created_at":"2026-01-02T03:04:05.678Z","expiry":null}`

func TestMintRequestBody(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want any // expiry_secs, nil when absent
	}{
		{0, nil}, // omitted, never 0 (0 is "already expired")
		{time.Second, 1.0},
		{1500 * time.Millisecond, 2.0},
		{time.Millisecond, 1.0},
		{720 * time.Hour, 2592000.0},
	} {
		s, c := newStub(t, 201, created)
		if _, err := c.Mint(context.Background(), mintReq(tc.ttl)); err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(<-s.bodies, &body); err != nil {
			t.Fatal(err)
		}
		got, present := body["expiry_secs"]
		if (tc.want == nil && present) || (tc.want != nil && got != tc.want) {
			t.Errorf("TTL %s: expiry_secs = %v (present %v), want %v", tc.ttl, got, present, tc.want)
		}
		perms, _ := json.Marshal(body["permissions"])
		if want := `[{"actions":["read","write"],"resource_names":["telemetry","logs"],"resource_type":"db"}]`; string(perms) != want {
			t.Errorf("permissions = %s, want %s", perms, want)
		}
		if r := s.last.Load(); r.Header.Get("Authorization") != "Bearer "+admin.Reveal() || r.URL.Path != influxdb3.PathCreateToken {
			t.Errorf("request %s %s without the admin Bearer token", r.Method, r.URL.Path)
		}
	}
}

func TestMintResult(t *testing.T) {
	_, c := newStub(t, 201, `{"id":18446744073709551615,"name":"k8s.ns.a.12345678.r1","token":"apiv3_X","created_at":"2026-01-02T03:04:05Z","expiry":"2026-01-02T04:04:05Z"}`)
	m, err := c.Mint(context.Background(), mintReq(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "18446744073709551615" || m.Token.Reveal() != "apiv3_X" || m.ExpiresAt == nil || m.ExpiresAt.Sub(m.CreatedAt) != time.Hour {
		t.Errorf("Minted = %+v (expires %v)", m, m.ExpiresAt)
	}
}

func TestMintErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   engine.Kind
		reason string
	}{
		{"plain-text 409", 409, "token name already exists, k8s.ns.a.12345678.r1", engine.Conflict, ""},
		{"unknown database", 400, "invalid resource name: telemetry", engine.Pending, tokensv1.ReasonDatabaseNotFound},
		{"database does not exist", 404, `{"error":"database telemetry does not exist"}`, engine.Pending, tokensv1.ReasonDatabaseNotFound},
		{"unknown database as 500", 500, "Cannot parse permission: invalid resource name", engine.Pending, tokensv1.ReasonDatabaseNotFound},
		{"serde error", 400, "missing field `token_name`", engine.Permanent, ""},
		{"Core has no route", 404, "", engine.Permanent, ""},
		{"401", 401, `{"error": "the request was not authenticated"}`, engine.Unauthorized, "Unauthorized"},
		{"403", 403, `{"error": "unauthorized to perform requested action with the token"}`, engine.Unauthorized, "Unauthorized"},
		{"503", 503, "overloaded", engine.Transient, ""},
		{"201 without a token", 201, `{"id":1}`, engine.Transient, ""},
		{"201 not JSON", 201, `<html>`, engine.Transient, ""},
	} {
		s, c := newStub(t, tc.status, tc.body)
		_, err := c.Mint(context.Background(), mintReq(0))
		if engine.KindOf(err) != tc.want || err == nil || engine.ReasonOf(err) != tc.reason {
			t.Errorf("%s: got %s %q (%v), want %s %q", tc.name, engine.KindOf(err), engine.ReasonOf(err), err, tc.want, tc.reason)
		}
		if n := s.calls.Load(); n != 1 {
			t.Errorf("%s: %d attempts; a mint is never retried (only a refusal naming the permission field is, TestPermissionFieldFallback)", tc.name, n)
		}
		if tc.want == engine.Pending {
			var e *engine.Error
			if !asEngineError(err, &e) || e.RequeueAfter <= 0 || !strings.Contains(e.Message, "create the database first") || !strings.Contains(e.Message, "telemetry, logs") {
				t.Errorf("%s: %+v lacks RequeueAfter or guidance", tc.name, e)
			}
		}
	}
}

func TestMintValidatesBeforeSending(t *testing.T) {
	s, c := newStub(t, 201, created)
	_, err := c.Mint(context.Background(), engine.MintRequest{Name: "x", Permissions: []engine.Permission{
		{Type: engine.ResourceSystem, Names: []string{"metrics"}, Actions: []engine.Action{engine.ActionWrite}},
	}})
	if !engine.IsPermanent(err) || s.calls.Load() != 0 {
		t.Errorf("got %v after %d calls, want Permanent without a call", err, s.calls.Load())
	}
}

func TestRevoke(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   engine.Kind
		ok     bool
	}{
		{200, "", 0, true},
		{204, "", 0, true},
		{404, "the requested resource was not found: x", 0, true},
		{405, "cannot delete operator token", engine.Permanent, false},
		{401, "", engine.Unauthorized, false},
		{400, "missing token_name", engine.Permanent, false},
		{502, "", engine.Transient, false},
	} {
		s, c := newStub(t, tc.status, tc.body)
		name := "k8s.ns/odd name&x='y'%_.r1"
		err := c.Revoke(context.Background(), name, "")
		if tc.ok != (err == nil) || (!tc.ok && engine.KindOf(err) != tc.want) {
			t.Errorf("HTTP %d: got %v", tc.status, err)
		}
		r := s.last.Load()
		if r.Method != http.MethodDelete || r.URL.Path != influxdb3.PathDeleteToken || r.URL.Query().Get("token_name") != name {
			t.Errorf("HTTP %d: sent %s %s", tc.status, r.Method, r.URL)
		}
		if wantCalls := map[bool]int32{true: 3, false: 1}[tc.status >= 500]; s.calls.Load() != wantCalls {
			t.Errorf("HTTP %d: %d attempts, want %d", tc.status, s.calls.Load(), wantCalls)
		}
	}
}

func TestLookupRows(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		expiry     *time.Time
	}{
		{"ms numbers", `[{"token_id":3,"name":"n","created_at":1767323045678,"expiry":1767326645678}]`, ptr(time.UnixMilli(1767326645678))},
		{"arrow strings", `[{"token_id":3,"name":"n","created_at":"2026-01-02T03:04:05.678","expiry":"2026-01-02T04:04:05.678"}]`, ptr(time.Date(2026, 1, 2, 4, 4, 5, 678e6, time.UTC))},
		{"absent expiry", `[{"token_id":3,"name":"n","created_at":"2026-01-02T03:04:05Z"}]`, nil},
		{"null expiry", `[{"token_id":"3","name":"n","created_at":"2026-01-02 03:04:05","expiry":null}]`, nil},
	} {
		s, c := newStub(t, 200, tc.body)
		info, err := c.Lookup(context.Background(), "n")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if info.ID != "3" || info.CreatedAt.IsZero() || !equalTime(info.ExpiresAt, tc.expiry) {
			t.Errorf("%s: %+v (expires %v), want expiry %v", tc.name, info, info.ExpiresAt, tc.expiry)
		}
		q := s.last.Load().URL.Query()
		if q.Get("db") != "_internal" || q.Get("q") != "SELECT token_id, name, created_at, expiry FROM system.tokens WHERE name = 'n'" {
			t.Errorf("%s: query %v", tc.name, q)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   engine.Kind
	}{
		{200, "", engine.NotFound},
		{200, "[]", engine.NotFound},
		{200, `[{"token_id":1,"name":"other"}]`, engine.NotFound}, // a server ignoring WHERE
		{200, `{"results":[]}`, engine.Transient},
		{404, "database not found: _internal", engine.Permanent}, // never NotFound: the token may exist
		{401, "", engine.Unauthorized},
		{500, "", engine.Transient},
	} {
		_, c := newStub(t, tc.status, tc.body)
		_, err := c.Lookup(context.Background(), "n")
		if err == nil || engine.KindOf(err) != tc.want {
			t.Errorf("HTTP %d %q: got %v, want %s", tc.status, tc.body, err, tc.want)
		}
	}
}

func TestListFiltersExactly(t *testing.T) {
	s, c := newStub(t, 200, `[{"token_id":1,"name":"k8s.a_b.x"},{"token_id":2,"name":"k8s.aXb.y"},{"token_id":3,"name":"k8s.a_b"}]`)
	infos, err := c.List(context.Background(), "k8s.a_b.")
	if err != nil || len(infos) != 1 || infos[0].ID != "1" {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	if q := s.last.Load().URL.Query().Get("q"); q != "SELECT token_id, name, created_at, expiry FROM system.tokens WHERE name LIKE 'k8s.a%'" {
		t.Errorf("query %q", q)
	}
}

func TestCheck(t *testing.T) {
	for status, want := range map[int]engine.Kind{401: engine.Unauthorized, 403: engine.Unauthorized, 503: engine.Transient} {
		_, c := newStub(t, status, "")
		if err := c.Check(context.Background()); engine.KindOf(err) != want || err == nil {
			t.Errorf("HTTP %d: got %v, want %s", status, err, want)
		}
	}
	_, c := newStub(t, 200, "[]")
	if err := c.Check(context.Background()); err != nil {
		t.Errorf("healthy: %v", err)
	}
}

func TestErrorsNeverCarryTokens(t *testing.T) {
	echo := "Authorization: Bearer " + admin.Reveal() + " token " + admin.Reveal()
	for _, status := range []int{400, 401, 409, 500} {
		_, c := newStub(t, status, echo)
		_, err := c.Mint(context.Background(), mintReq(0))
		if err == nil || strings.Contains(err.Error(), admin.Reveal()) {
			t.Errorf("HTTP %d: %v", status, err)
		}
		_, err = c.Lookup(context.Background(), "n")
		if err == nil || strings.Contains(err.Error(), admin.Reveal()) {
			t.Errorf("HTTP %d lookup: %v", status, err)
		}
	}
}

func TestNewRejectsEmptyAdminToken(t *testing.T) {
	if _, err := influxdb3.New(httpapi.Config{URL: "http://x"}, ""); !engine.IsUnauthorized(err) {
		t.Errorf("got %v, want Unauthorized", err)
	}
}

func ptr(t time.Time) *time.Time { return &t }

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func asEngineError(err error, target **engine.Error) bool {
	e, ok := err.(*engine.Error)
	*target = e
	return ok
}

func TestUnreadableMintAnswerNeverQuotesTheBody(t *testing.T) {
	_, c := newStub(t, 201, `{"token":"short-secret", "id": }`)
	_, err := c.Mint(context.Background(), mintReq(0))
	if engine.KindOf(err) != engine.Transient || err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Errorf("got %v", err)
	}
}
