package enginetest

import (
	"net"
	"net/http"
	"testing"
)

// ClosedURL returns the http URL of a loopback port nothing listens on, with path appended, for
// Harness.Unreachable.
func ClosedURL(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr + path
}

// Allowed sends req, which carries a minted token, and reports whether the engine allowed it;
// see AllowedStatus.
func Allowed(t *testing.T, req *http.Request) bool {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	_ = resp.Body.Close()
	return AllowedStatus(t, req.Method+" "+req.URL.Path, resp.StatusCode)
}

// AllowedStatus reads an engine's answer to a request made with a minted token, for
// Harness.Authorize: 2xx is allowed, 401 and 403 are refused, anything else fails t.
func AllowedStatus(t *testing.T, what string, status int) bool {
	t.Helper()
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return false
	}
	t.Fatalf("%s: unexpected HTTP %d", what, status)
	return false
}
