// Package tokenenginetest starts a real token engine on a loopback listener for tests: a temp data
// directory, bootstrapped through an admin token file, exactly as the engine runs in a cluster.
//
//	inst := tokenenginetest.Start(t)
//	client := influxdb3.New(inst.URL, inst.AdminToken)
package tokenenginetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/tokenops/token-operator/internal/tokenengine"
)

// Option changes how Start configures the engine.
type Option func(*options)

type options struct {
	clock        clock.WithTicker
	bootstrap    bool
	retention    time.Duration
	logger       *slog.Logger
	noAdminToken bool
}

// WithClock injects a clock, e.g. k8s.io/utils/clock/testing.NewFakeClock, to drive expiry.
func WithClock(c clock.WithTicker) Option { return func(o *options) { o.clock = c } }

// WithUnauthenticatedBootstrap enables POST /api/v3/configure/token/admin without a token.
func WithUnauthenticatedBootstrap() Option { return func(o *options) { o.bootstrap = true } }

// WithoutAdminToken starts the engine without an admin token file (AdminToken is then empty);
// combine with WithUnauthenticatedBootstrap to test the bootstrap call.
func WithoutAdminToken() Option { return func(o *options) { o.noAdminToken = true } }

// WithExpiredRetention sets how long expired tokens stay listed before they are purged.
func WithExpiredRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithLogger sends the engine's logs to l; by default they are discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Instance is a running engine.
type Instance struct {
	// URL is the engine's base URL, http://127.0.0.1:PORT; it stays the same across Restart.
	URL string
	// AdminToken is the operator (_admin) token from the admin token file.
	AdminToken string
	// DataDir holds the engine's bbolt file.
	DataDir string

	t    testing.TB
	cfg  tokenengine.Config
	srv  *http.Server
	mu   sync.Mutex
	eng  *tokenengine.Engine
	done bool
}

// Start runs an engine on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Instance {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	dir := t.TempDir()
	inst := &Instance{t: t, DataDir: filepath.Join(dir, "data")}
	inst.cfg = tokenengine.Config{
		DataDir:                             inst.DataDir,
		EnableUnauthenticatedAdminBootstrap: o.bootstrap,
		Clock:                               o.clock,
		Logger:                              o.logger,
		ExpiredRetention:                    o.retention,
	}
	if !o.noAdminToken {
		inst.AdminToken = NewTokenString(t)
		f, err := json.Marshal(tokenengine.AdminTokenFile{Token: inst.AdminToken, Name: tokenengine.AdminTokenName})
		if err != nil {
			t.Fatal(err)
		}
		inst.cfg.AdminTokenFile = filepath.Join(dir, "admin-token.json")
		if err := os.WriteFile(inst.cfg.AdminTokenFile, f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := tokenengine.Open(inst.cfg)
	if err != nil {
		t.Fatalf("opening token engine: %v", err)
	}
	inst.eng = eng
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	inst.URL = "http://" + ln.Addr().String()
	// The handler is looked up per request so that Restart can swap the engine behind a stable URL.
	inst.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst.mu.Lock()
		h := inst.eng.Handler()
		inst.mu.Unlock()
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = inst.srv.Serve(ln) }()
	t.Cleanup(inst.Close)
	return inst
}

// Engine returns the running engine, e.g. to call PurgeExpired.
func (i *Instance) Engine() *tokenengine.Engine {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.eng
}

// Restart closes the store and opens it again from the same directory, as a process restart
// would, keeping the URL. Requests during the swap may fail.
func (i *Instance) Restart() {
	i.t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.eng.Close(); err != nil {
		i.t.Fatalf("closing token engine: %v", err)
	}
	eng, err := tokenengine.Open(i.cfg)
	if err != nil {
		i.t.Fatalf("reopening token engine: %v", err)
	}
	i.eng = eng
}

// Close stops the server and closes the store; it is safe to call twice.
func (i *Instance) Close() {
	i.mu.Lock()
	if i.done {
		i.mu.Unlock()
		return
	}
	i.done = true
	i.mu.Unlock()
	_ = i.srv.Close()
	i.mu.Lock()
	defer i.mu.Unlock()
	_ = i.eng.Close()
}

// NewTokenString returns a fresh token in InfluxDB 3's format, for admin token files.
func NewTokenString(t testing.TB) string {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return tokenengine.TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// AuthorizeStatus asks the engine at base, through hc (http.DefaultClient when nil), whether
// token may take action on db, as a gateway does, and returns the status: 204 yes, 401/403 no,
// 0 when the engine could not be reached.
func AuthorizeStatus(hc *http.Client, base, token, db, action string) int {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodGet, base+tokenengine.PathAuthorize+"?db="+url.QueryEscape(db)+"&action="+url.QueryEscape(action), nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
