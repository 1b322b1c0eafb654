// Package influxdb1test starts a real InfluxDB 1.x server (the Debian package's influxd) for
// tests: on a loopback port, with authentication on, its data in a temporary directory, and an
// admin user created. Tests skip, saying how to install it, where influxd is absent.
package influxdb1test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine/influxdb1"
)

// Binary is the server executable looked up on PATH.
const Binary = "influxd"

// InstallHint says how to get the server on Debian and Ubuntu (hack/ci-packages.sh does this in CI).
const InstallHint = "install it with `apt-get install -y influxdb` (Debian/Ubuntu), or run hack/ci-packages.sh"

// startTimeout bounds how long the server may take to answer /ping.
const startTimeout = 30 * time.Second

// Server is a running influxd.
type Server struct {
	// URL is the HTTP API's base URL.
	URL string
	// AdminUser and AdminPassword are the admin user's credentials.
	AdminUser     string
	AdminPassword string
	// Version is what /ping reports in X-Influxdb-Version.
	Version string
}

// Start starts influxd for t and stops it at cleanup; it skips t when influxd is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		t.Skipf("%s (InfluxDB 1.x) is not installed: %s", Binary, InstallHint)
	}
	dir := t.TempDir()
	httpAddr, rpcAddr := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(conf, []byte(config(dir, httpAddr, rpcAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "run", "-config", conf)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &Server{URL: "http://" + httpAddr, AdminUser: "admin", AdminPassword: randomPassword(t)}
	if s.Version, err = waitForPing(s.URL); err != nil {
		t.Fatalf("%s did not come up: %v\n%s", bin, err, tail(logs.String()))
	}
	// With auth on and no user yet, only CREATE USER … WITH ALL PRIVILEGES is allowed, unauthenticated.
	if err := s.query("", "", "CREATE USER "+influxdb1.QuoteIdent(s.AdminUser)+" WITH PASSWORD "+influxdb1.QuoteString(s.AdminPassword)+" WITH ALL PRIVILEGES"); err != nil {
		t.Fatalf("creating the admin user: %v", err)
	}
	return s
}

// CreateDatabase creates a database as the admin.
func (s *Server) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if err := s.query(s.AdminUser, s.AdminPassword, "CREATE DATABASE "+influxdb1.QuoteIdent(name)); err != nil {
		t.Fatalf("creating database %q: %v", name, err)
	}
}

// Write writes one point to db with HTTP Basic credentials and returns the status: 204 written,
// 401 unknown user or bad password, 403 no write grant.
func (s *Server) Write(t testing.TB, user, password, db string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/write?"+url.Values{"db": {db}}.Encode(), strings.NewReader("probe value=1"))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	return status(t, req)
}

// Read runs a query on db with HTTP Basic credentials and returns the status: 200 allowed, 401
// unknown user or bad password, 403 no read grant.
func (s *Server) Read(t testing.TB, user, password, db string) int {
	t.Helper()
	form := url.Values{"db": {db}, "q": {"SELECT * FROM probe LIMIT 1"}}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, password)
	return status(t, req)
}

func status(t testing.TB, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (s *Server) query(user, password, q string) error {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/query", strings.NewReader(url.Values{"q": {q}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(body.String(), `"error"`) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, body.String())
	}
	return nil
}

func config(dir, httpAddr, rpcAddr string) string {
	return fmt.Sprintf(`reporting-disabled = true
bind-address = %q
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  enabled = true
  bind-address = %q
  auth-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`, rpcAddr, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpAddr)
}

func waitForPing(base string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return resp.Header.Get("X-Influxdb-Version"), nil
			}
			err = fmt.Errorf("/ping: HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no answer within %s: %v", startTimeout, last)
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func randomPassword(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
