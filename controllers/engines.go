package controllers

import (
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tokenops/token-operator/internal/defaults"
	"github.com/tokenops/token-operator/internal/enginefactory"
)

// Engine check intervals (docs/design.md §8: a handful of engines, so a check every few minutes is cheap).
const (
	// DefaultEngineCheckInterval is how often a Ready engine is re-checked, ±10%.
	DefaultEngineCheckInterval = 5 * time.Minute
	// DefaultEngineRetryInterval is how often an engine that is not Ready is re-checked, ±10%.
	DefaultEngineRetryInterval = 30 * time.Second
	// DefaultEngineCheckTimeout bounds one check, retries included.
	DefaultEngineCheckTimeout = 30 * time.Second
	// defaultEngineWorkers is the engine reconcilers' worker count: few engines, but one
	// unreachable engine must not hold up the others' checks.
	defaultEngineWorkers = 4
)

// EngineDeps is what the engine reconcilers need from the manager command.
type EngineDeps struct {
	// Clients builds and keeps engine clients; the resolver shares it, so a check refreshes
	// the client the token reconcilers use.
	Clients *enginefactory.Cache
	// ManagerNamespace is where a ClusterTokenEngine's Secret reference points by default.
	ManagerNamespace string
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// CheckInterval, RetryInterval and CheckTimeout override the defaults above when positive.
	CheckInterval, RetryInterval, CheckTimeout time.Duration
	// MaxConcurrentReconciles per kind; zero means 4.
	MaxConcurrentReconciles int
	// OrphanSweepInterval, OrphanGrace and OrphanSweepTimeout override DefaultOrphanSweepInterval,
	// DefaultOrphanGrace and DefaultOrphanSweepTimeout when positive (orphan_sweep.go).
	OrphanSweepInterval, OrphanGrace, OrphanSweepTimeout time.Duration
	// WatchNamespaces are the namespaces the manager's cache holds token resources of
	// (--watch-namespaces); empty means all. The orphan sweep judges no token of another
	// namespace: with no resources in the cache, every token there would look unaccounted.
	WatchNamespaces []string

	recorder events.EventRecorder // set by Setup: the one event writer
}

func (d EngineDeps) withDefaults() EngineDeps {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	d.CheckInterval = defaults.Positive(d.CheckInterval, DefaultEngineCheckInterval)
	d.RetryInterval = defaults.Positive(d.RetryInterval, DefaultEngineRetryInterval)
	d.CheckTimeout = defaults.Positive(d.CheckTimeout, DefaultEngineCheckTimeout)
	d.OrphanSweepInterval = defaults.Positive(d.OrphanSweepInterval, DefaultOrphanSweepInterval)
	d.OrphanGrace = defaults.Positive(d.OrphanGrace, DefaultOrphanGrace)
	d.OrphanSweepTimeout = defaults.Positive(d.OrphanSweepTimeout, DefaultOrphanSweepTimeout)
	d.MaxConcurrentReconciles = defaults.Positive(d.MaxConcurrentReconciles, defaultEngineWorkers)
	return d
}

// setupEngineReconcilers registers the ClusterTokenEngine and TokenEngine reconcilers with mgr
// (through Setup).
func setupEngineReconcilers(mgr ctrl.Manager, deps EngineDeps) error {
	deps = deps.withDefaults()
	if err := setupClusterTokenEngines(mgr, deps); err != nil {
		return err
	}
	return setupTokenEngines(mgr, deps)
}
