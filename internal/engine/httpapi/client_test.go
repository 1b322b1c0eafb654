package httpapi_test

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

const secret = engine.Plaintext("apiv3_SuperSecretAdminToken0123456789abcdefABCDEF")

func newClient(t *testing.T, url string, mod ...func(*httpapi.Config)) *httpapi.Client {
	t.Helper()
	cfg := httpapi.Config{URL: url, Backoff: time.Millisecond, Timeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countingServer answers with status for every request and counts them.
func countingServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRetriesOnlyIdempotentCalls(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
		want   int32
	}{
		{http.MethodGet, 503, httpapi.DefaultAttempts},
		{http.MethodDelete, 500, httpapi.DefaultAttempts},
		{http.MethodGet, 429, httpapi.DefaultAttempts},
		{http.MethodPost, 503, 1}, // a lost mint is recovered by Conflict, never resent
		{http.MethodGet, 400, 1},
		{http.MethodGet, 404, 1},
	} {
		srv, n := countingServer(t, tc.status, "busy")
		resp, err := newClient(t, srv.URL).Do(context.Background(), httpapi.Request{Method: tc.method, Path: "/x", Token: secret})
		if err != nil {
			t.Fatalf("%s %d: %v", tc.method, tc.status, err)
		}
		if resp.Status != tc.status || n.Load() != tc.want {
			t.Errorf("%s %d: status %d after %d attempts, want %d attempts", tc.method, tc.status, resp.Status, n.Load(), tc.want)
		}
		if tc.status >= 500 && engine.KindOf(resp.DefaultError("x")) != engine.Transient {
			t.Errorf("%d is not Transient", tc.status)
		}
	}
}

func TestRetrySucceedsAfterTransientFailure(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}))
	defer srv.Close()
	resp, err := newClient(t, srv.URL).Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/x"})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("got %v, %v; want 200 on the second attempt", resp, err)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv.URL, func(c *httpapi.Config) { c.Timeout = 50 * time.Millisecond; c.Attempts = 2 })
	start := time.Now()
	_, err := c.Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/slow", Token: secret})
	if engine.KindOf(err) != engine.Transient || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Fatalf("got %v, want a Transient timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("two 50ms attempts took %s", d)
	}
}

func TestUnreachableIsTransientAndClean(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := newClient(t, url).Do(context.Background(), httpapi.Request{Method: http.MethodPost, Path: "/x?q=1", Token: secret})
	if engine.KindOf(err) != engine.Transient || engine.ReasonOf(err) != tokensv1.ReasonUnreachable {
		t.Fatalf("got %v, want Transient Unreachable", err)
	}
	if strings.Contains(err.Error(), secret.Reveal()) {
		t.Fatal("error holds the token")
	}
}

func TestResponseBodyCap(t *testing.T) {
	srv, _ := countingServer(t, 200, strings.Repeat("x", 2048))
	c := newClient(t, srv.URL, func(c *httpapi.Config) { c.MaxResponseBytes = 1024 })
	if _, err := c.Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/big"}); engine.KindOf(err) != engine.Transient || err == nil {
		t.Fatalf("got %v, want a Transient size error", err)
	}
}

func TestRequestShape(t *testing.T) {
	rec := &httpapi.Recorder{}
	srv, _ := countingServer(t, 201, "{}")
	c := newClient(t, srv.URL+"/base/", func(c *httpapi.Config) { c.WrapTransport = rec.Wrap })
	_, err := c.Do(context.Background(), httpapi.Request{Method: http.MethodPost, Path: "/api", Query: map[string][]string{"n": {"a b&c"}},
		Body: map[string]int{"k": 1}, Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 {
		t.Fatalf("recorded %d requests", len(reqs))
	}
	r := reqs[0]
	if r.URL.Path != "/base/api" || r.URL.Query().Get("n") != "a b&c" || string(r.Body) != `{"k":1}` ||
		r.Header.Get("Authorization") != "Bearer "+secret.Reveal() || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unexpected request: %s %s %s %v", r.Method, r.URL, r.Body, r.Header)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer srv.Close()
	resp, err := newClient(t, srv.URL).Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/", Token: secret})
	if err != nil || resp.Status != http.StatusFound || hits.Load() != 0 {
		t.Fatalf("redirect followed: %v %v hits=%d", resp, err, hits.Load())
	}
	if engine.KindOf(resp.DefaultError("x")) != engine.Transient {
		t.Error("a 3xx must not be Permanent")
	}
}

func TestConfigErrorsArePermanent(t *testing.T) {
	for name, cfg := range map[string]httpapi.Config{
		"relative URL":    {URL: "token-engine:8181"},
		"ftp URL":         {URL: "ftp://x"},
		"user in URL":     {URL: "http://u:p@x"},
		"garbage CA":      {URL: "https://x", CABundle: []byte("not pem")},
		"empty PEM block": {URL: "https://x", CABundle: pem.EncodeToMemory(&pem.Block{Type: "JUNK"})},
	} {
		_, err := httpapi.New(cfg)
		if engine.KindOf(err) != engine.Permanent || err == nil {
			t.Errorf("%s: got %v, want Permanent", name, err)
		}
		if cfg.CABundle != nil && engine.ReasonOf(err) != tokensv1.ReasonInvalidConfig {
			t.Errorf("%s: reason %q, want %s (the spec's caBundle is wrong)", name, engine.ReasonOf(err), tokensv1.ReasonInvalidConfig)
		}
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	get := func(cfg httpapi.Config) error {
		c, err := httpapi.New(cfg)
		if err != nil {
			return err
		}
		_, err = c.Do(context.Background(), httpapi.Request{Method: http.MethodPost, Path: "/"})
		return err
	}
	if err := get(httpapi.Config{URL: srv.URL}); engine.KindOf(err) != engine.Transient || err == nil {
		t.Errorf("untrusted certificate: got %v, want a Transient error", err)
	}
	if err := get(httpapi.Config{URL: srv.URL, CABundle: caPEM}); err != nil {
		t.Errorf("with the CA bundle: %v", err)
	}
	if err := get(httpapi.Config{URL: srv.URL, InsecureSkipVerify: true}); err != nil {
		t.Errorf("with InsecureSkipVerify: %v", err)
	}
}

func TestDefaultErrorKinds(t *testing.T) {
	for status, want := range map[int]engine.Kind{
		400: engine.Permanent, 401: engine.Unauthorized, 403: engine.Unauthorized, 404: engine.NotFound,
		409: engine.Conflict, 422: engine.Permanent, 429: engine.Transient, 500: engine.Transient, 503: engine.Transient,
	} {
		srv, _ := countingServer(t, status, `{"error":"echo `+secret.Reveal()+`"}`)
		resp, err := newClient(t, srv.URL, func(c *httpapi.Config) { c.Attempts = 1 }).Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/", Token: secret})
		if err != nil {
			t.Fatal(err)
		}
		e := resp.DefaultError("doing x")
		if e.Kind != want {
			t.Errorf("HTTP %d: %s, want %s", status, e.Kind, want)
		}
		if strings.Contains(e.Error(), secret.Reveal()) || !strings.Contains(e.Error(), "[redacted]") {
			t.Errorf("HTTP %d: message %q must redact the echoed token", status, e.Error())
		}
	}
}

// TestConcurrentCallsReuseConnections: the manager's workers share one client per engine; after a
// round of 16 concurrent calls, the next round reuses those connections instead of opening new
// ones (each a TCP and TLS handshake).
func TestConcurrentCallsReuseConnections(t *testing.T) {
	const workers = 16
	var opened atomic.Int32
	release := make(chan struct{})
	var inFlight atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Hold each call until all are in flight, so that the round needs 16 connections.
		if inFlight.Add(1) == workers {
			close(release)
		}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c := newClient(t, srv.URL, func(cfg *httpapi.Config) { cfg.CABundle = ca })
	round := func() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if _, err := c.Do(context.Background(), httpapi.Request{Method: http.MethodGet, Path: "/x", Token: secret}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	round()
	first := opened.Load()
	for range 3 {
		round()
	}
	if first != workers || opened.Load() != first {
		t.Errorf("connections opened: %d in the first round, %d in all four; want %d and no more", first, opened.Load(), workers)
	}
}
