package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// orphanLabels identify the engine resource that swept; never a token name (docs/metrics.md).
var orphanLabels = []string{"engine", "engine_kind"}

// OrphanMetrics are the orphan sweep's metrics (controllers/orphan_sweep.go, docs/rotation.md).
// Tests create their own with NewOrphanMetrics; the manager uses DefaultOrphanMetrics.
type OrphanMetrics struct {
	orphans *prometheus.GaugeVec
	revoked *prometheus.CounterVec
}

// NewOrphanMetrics returns unregistered orphan sweep metrics.
func NewOrphanMetrics() *OrphanMetrics {
	return &OrphanMetrics{
		orphans: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_operator_engine_orphan_tokens",
			Help: "Engine tokens with the operator's name prefix that no DatabaseToken or SystemToken accounts for, left in the engine after the last orphan sweep.",
		}, orphanLabels),
		revoked: counterVec("token_operator_engine_orphan_tokens_revoked_total",
			"Orphan engine tokens the orphan sweep revoked (spec.orphanSweep: Revoke).", orphanLabels),
	}
}

// Collectors returns the metrics, for registration.
func (m *OrphanMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.orphans, m.revoked}
}

// Swept records one sweep of an engine: left orphans remain in the engine, revoked were revoked.
// The revoked counter is created at 0 on the first sweep, so increase() works from the first
// revocation.
func (m *OrphanMetrics) Swept(engineKind, engineName string, left, revoked int) {
	m.orphans.WithLabelValues(engineName, engineKind).Set(float64(left))
	m.revoked.WithLabelValues(engineName, engineKind).Add(float64(revoked))
}

// Forget removes an engine's orphan gauge: the engine was deleted or its sweep turned Off, so
// there is no count to report. The revoked counter stays, as counters do.
func (m *OrphanMetrics) Forget(engineKind, engineName string) {
	m.orphans.DeleteLabelValues(engineName, engineKind)
}

// DefaultOrphanMetrics is registered on controller-runtime's registry, which the manager's
// /metrics endpoint serves.
var DefaultOrphanMetrics = NewOrphanMetrics()

func init() {
	crmetrics.Registry.MustRegister(DefaultOrphanMetrics.Collectors()...)
}
