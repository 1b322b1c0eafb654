package tokenengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/tokenops/token-operator/internal/defaults"
)

// Defaults for Config fields left zero.
const (
	// DefaultExpiredRetention is how long an expired token stays listed in system.tokens before
	// the engine deletes it. It is refused everywhere from the instant it expires.
	DefaultExpiredRetention = 24 * time.Hour
	// DefaultPurgeInterval is how often the engine looks for expired tokens to delete.
	DefaultPurgeInterval = time.Minute
)

// Config configures an Engine.
type Config struct {
	// Store holds the tokens; nil means the bbolt file in DataDir. The engine closes it.
	Store Store
	// DataDir holds the bbolt file when Store is nil; it is created when missing.
	DataDir string
	// AdminTokenFile is a file in InfluxDB 3's admin token file format
	// ({"token":"apiv3_…","name":…,"expiry_millis":…}); when set, the operator token is made to
	// match it at every start.
	AdminTokenFile string
	// EnableUnauthenticatedAdminBootstrap lets anyone create the operator token with
	// POST /api/v3/configure/token/admin while it does not exist yet, as the real server does.
	EnableUnauthenticatedAdminBootstrap bool
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives request and lifecycle logs; nil discards them.
	Logger *slog.Logger
	// ExpiredRetention is DefaultExpiredRetention when zero.
	ExpiredRetention time.Duration
	// PurgeInterval is DefaultPurgeInterval when zero.
	PurgeInterval time.Duration
}

// Engine is an opened token engine: the store, the in-memory index and the HTTP handler.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	tokens  *tokens
	store   Store
	metrics *metrics
	handler http.Handler
	ready   atomic.Bool
}

// Open opens (or creates) the bbolt store in cfg.DataDir unless cfg.Store is set, and applies the
// admin token file. The caller must Close the engine.
func Open(cfg Config) (*Engine, error) {
	if cfg.Store == nil && cfg.DataDir == "" {
		return nil, errors.New("a data directory is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.ExpiredRetention = defaults.Positive(cfg.ExpiredRetention, DefaultExpiredRetention)
	cfg.PurgeInterval = defaults.Positive(cfg.PurgeInterval, DefaultPurgeInterval)
	st := cfg.Store
	if st == nil {
		var err error
		if st, err = OpenBoltStore(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	t := newTokens(st, cfg.Clock)
	e := &Engine{cfg: cfg, log: cfg.Logger, tokens: t, store: st, metrics: newMetrics(t)}
	if cfg.AdminTokenFile != "" {
		if err := e.applyAdminTokenFile(cfg.AdminTokenFile); err != nil {
			_ = st.Close()
			return nil, err
		}
	}
	e.handler = e.routes()
	e.ready.Store(true)
	live, expired := t.counts()
	e.log.Info("Opened token store", "store", fmt.Sprintf("%T", st), "liveTokens", live, "expiredTokens", expired)
	return e, nil
}

// Handler is the engine's HTTP API.
func (e *Engine) Handler() http.Handler { return e.handler }

// Close stops answering readiness and closes the store.
func (e *Engine) Close() error {
	e.ready.Store(false)
	return e.store.Close()
}

// PurgeExpired deletes tokens expired for longer than the retention period now.
func (e *Engine) PurgeExpired() (int, error) {
	n, err := e.tokens.purgeExpired(e.cfg.ExpiredRetention)
	if n > 0 {
		e.metrics.purged.Add(float64(n))
		e.log.Info("Purged expired tokens", "count", n)
	}
	return n, err
}

// RunPurger purges expired tokens every PurgeInterval until ctx ends.
func (e *Engine) RunPurger(ctx context.Context) {
	tick := e.cfg.Clock.NewTicker(e.cfg.PurgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
			if _, err := e.PurgeExpired(); err != nil {
				e.log.Error("Failed to purge expired tokens", "err", err)
			}
		}
	}
}
