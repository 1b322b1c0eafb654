package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// TestSchemesAndForms: Token and Basic schemes, form bodies, and the recorded response.
func TestSchemesAndForms(t *testing.T) {
	rec := &httpapi.Recorder{}
	srv, _ := countingServer(t, 200, `{"ok":true}`)
	c := newClient(t, srv.URL, func(c *httpapi.Config) { c.WrapTransport = rec.Wrap })
	ctx := context.Background()
	for _, r := range []httpapi.Request{
		{Method: http.MethodGet, Path: "/v2", Token: secret, Scheme: httpapi.SchemeToken},
		{Method: http.MethodPost, Path: "/query", Token: secret, Scheme: httpapi.SchemeBasic, Username: "admin", Form: url.Values{"q": {"SHOW USERS"}}},
	} {
		if _, err := c.Do(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.Requests()
	if got := reqs[0].Header.Get("Authorization"); got != "Token "+secret.Reveal() {
		t.Errorf("Token scheme: Authorization %q", got)
	}
	basic, _ := http.NewRequest(http.MethodGet, "/", nil)
	basic.Header = reqs[1].Header
	if u, p, ok := basic.BasicAuth(); !ok || u != "admin" || p != secret.Reveal() {
		t.Errorf("Basic scheme: got %q, %v", u, ok)
	}
	if reqs[1].Header.Get("Content-Type") != "application/x-www-form-urlencoded" || string(reqs[1].Body) != "q=SHOW+USERS" {
		t.Errorf("form: %q %q", reqs[1].Header.Get("Content-Type"), reqs[1].Body)
	}
	if r := reqs[1].Response; r == nil || r.Status != 200 || string(r.Body) != `{"ok":true}` {
		t.Errorf("recorded response: %+v", r)
	}
}

// TestIdempotentPost: a POST marked Idempotent is retried like a GET.
func TestIdempotentPost(t *testing.T) {
	srv, n := countingServer(t, 503, "busy")
	_, err := newClient(t, srv.URL).Do(context.Background(), httpapi.Request{Method: http.MethodPost, Path: "/query", Idempotent: true})
	if err != nil || n.Load() != httpapi.DefaultAttempts {
		t.Fatalf("%d attempts (%v), want %d", n.Load(), err, httpapi.DefaultAttempts)
	}
}

// TestDeleted: 2xx and 404 are success, other answers and network errors are not.
func TestDeleted(t *testing.T) {
	for status, ok := range map[int]bool{204: true, 200: true, 404: true, 401: false, 500: false} {
		srv, _ := countingServer(t, status, "")
		resp, err := newClient(t, srv.URL, func(c *httpapi.Config) { c.Attempts = 1 }).Do(context.Background(), httpapi.Request{Method: http.MethodDelete, Path: "/x"})
		if got := httpapi.Deleted(resp, err, "deleting x"); (got == nil) != ok {
			t.Errorf("HTTP %d: %v", status, got)
		}
	}
	if err := httpapi.Deleted(nil, engine.Errorf("down"), "deleting x"); err == nil {
		t.Error("a network error was success")
	}
}

func TestTimestamp(t *testing.T) {
	var v struct{ A, B, C, D httpapi.Timestamp }
	if err := json.Unmarshal([]byte(`{"A":"2026-01-02T03:04:05.678Z","B":null,"C":""}`), &v); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC); !v.A.Equal(want) || *v.A.Ptr() != want {
		t.Errorf("A = %v", v.A)
	}
	if v.B.Ptr() != nil || v.C.Ptr() != nil || v.D.Ptr() != nil || v.D.OrNow().IsZero() {
		t.Errorf("null, empty and absent must be zero: %v %v %v", v.B, v.C, v.D)
	}
	if err := json.Unmarshal([]byte(`{"A":"yesterday"}`), &v); err == nil {
		t.Error("a malformed time was accepted")
	}
}
