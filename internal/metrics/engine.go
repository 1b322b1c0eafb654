// Package metrics holds the operator's own Prometheus metrics, all named token_operator_*: engine
// call counters and latencies, recorded by a decorator around engine.Engine, and per-token gauges
// computed at scrape time from the manager's cache. docs/metrics.md describes each one.
//
// Nothing here ever puts a token, a fingerprint or a Secret's content in a label.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tokenops/token-operator/internal/engine"
)

// Operation label values: one per engine.Engine method.
const (
	OpMint   = "mint"
	OpRevoke = "revoke"
	OpLookup = "lookup"
	OpList   = "list"
	OpCheck  = "check"
)

// OutcomeSuccess is the outcome label of a call that returned no error; failed calls carry
// their engine.Kind in snake case (see Outcome).
const OutcomeSuccess = "success"

// outcomes maps every engine.Kind to its outcome label, written once so a scrape always shows
// the same small set of values.
var outcomes = map[engine.Kind]string{
	engine.Transient:    "transient",
	engine.Permanent:    "permanent",
	engine.Pending:      "pending",
	engine.Conflict:     "conflict",
	engine.NotFound:     "not_found",
	engine.Unauthorized: "unauthorized",
}

// Outcome returns the outcome label of an engine call's error.
func Outcome(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	if o, ok := outcomes[engine.KindOf(err)]; ok {
		return o
	}
	return outcomes[engine.Transient] // an unknown kind is retried like a transient one
}

// DurationBuckets reach past httpapi.DefaultTimeout (10s): a call that retries takes longer,
// and those are the ones worth seeing.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Labels identifying the engine resource a client was built from, then the call.
var (
	engineLabels   = []string{"engine", "engine_kind", "engine_type"}
	durationLabels = []string{"engine", "engine_kind", "engine_type", "operation"}
	requestsLabels = []string{"engine", "engine_kind", "engine_type", "operation", "outcome"}
)

// counterVec is an unregistered counter vector; the metrics' owners register their Collectors.
func counterVec(name, help string, labels []string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// EngineMetrics are the engine call metrics. Tests create their own with NewEngineMetrics;
// the manager uses DefaultEngineMetrics through Wrap.
type EngineMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	minted   *prometheus.CounterVec
	revoked  *prometheus.CounterVec
}

// NewEngineMetrics returns unregistered engine metrics.
func NewEngineMetrics() *EngineMetrics {
	return &EngineMetrics{
		requests: counterVec("token_operator_engine_requests_total",
			"Calls the operator made to token engines, by operation and outcome (success or the engine error kind).", requestsLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "token_operator_engine_request_duration_seconds",
			Help:    "Time the operator's calls to token engines took, including the HTTP client's retries, by operation.",
			Buckets: DurationBuckets,
		}, durationLabels),
		minted: counterVec("token_operator_tokens_minted_total",
			"Tokens the operator minted successfully in token engines.", engineLabels),
		revoked: counterVec("token_operator_tokens_revoked_total",
			"Successful revocations the operator made in token engines (revoking a token the engine no longer knows also succeeds).", engineLabels),
	}
}

// Collectors returns the metrics, for registration.
func (m *EngineMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.duration, m.minted, m.revoked}
}

// DefaultEngineMetrics is registered on controller-runtime's registry, which the manager's
// /metrics endpoint serves.
var DefaultEngineMetrics = NewEngineMetrics()

func init() {
	// The kubebuilder convention: registering here means the metrics exist in every process
	// whose manager serves /metrics, with no wiring to forget.
	crmetrics.Registry.MustRegister(DefaultEngineMetrics.Collectors()...)
}

// Wrap returns e instrumented with DefaultEngineMetrics. engineName is the engine resource's
// name, prefixed by its namespace and a slash for a TokenEngine; engineType is one of
// tokensv1.EngineType*.
func Wrap(e engine.Engine, engineKind, engineName, engineType string) engine.Engine {
	return DefaultEngineMetrics.Wrap(e, engineKind, engineName, engineType)
}

// Wrap returns e instrumented with m. Call it once per built client, not per call: the
// labelled series are resolved here so that a call only observes.
func (m *EngineMetrics) Wrap(e engine.Engine, engineKind, engineName, engineType string) engine.Engine {
	id := prometheus.Labels{"engine": engineName, "engine_kind": engineKind, "engine_type": engineType}
	w := &instrumented{next: e, minted: m.minted.With(id), revoked: m.revoked.With(id), ops: map[string]*opMetrics{}}
	requests, duration := m.requests.MustCurryWith(id), m.duration.MustCurryWith(id)
	for _, op := range []string{OpMint, OpRevoke, OpLookup, OpList, OpCheck} {
		o := &opMetrics{duration: duration.WithLabelValues(op), outcomes: map[string]prometheus.Counter{}}
		for _, outcome := range append([]string{OutcomeSuccess}, valuesOf(outcomes)...) {
			o.outcomes[outcome] = requests.WithLabelValues(op, outcome)
		}
		w.ops[op] = o
	}
	return w
}

func valuesOf(m map[engine.Kind]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

type opMetrics struct {
	duration prometheus.Observer
	outcomes map[string]prometheus.Counter
}

// instrumented is the decorator: it passes every call through unchanged and records it.
type instrumented struct {
	next            engine.Engine
	minted, revoked prometheus.Counter
	ops             map[string]*opMetrics
}

var _ engine.Engine = (*instrumented)(nil)

func (w *instrumented) observe(op string, start time.Time, err error) {
	o := w.ops[op]
	o.duration.Observe(time.Since(start).Seconds())
	o.outcomes[Outcome(err)].Inc()
}

func (w *instrumented) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	start := time.Now()
	m, err := w.next.Mint(ctx, req)
	w.observe(OpMint, start, err)
	if err == nil {
		w.minted.Inc()
	}
	return m, err
}

func (w *instrumented) Revoke(ctx context.Context, name, id string) error {
	start := time.Now()
	err := w.next.Revoke(ctx, name, id)
	w.observe(OpRevoke, start, err)
	if err == nil {
		w.revoked.Inc()
	}
	return err
}

func (w *instrumented) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	start := time.Now()
	info, err := w.next.Lookup(ctx, name)
	w.observe(OpLookup, start, err)
	return info, err
}

func (w *instrumented) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	start := time.Now()
	infos, err := w.next.List(ctx, prefix)
	w.observe(OpList, start, err)
	return infos, err
}

func (w *instrumented) Check(ctx context.Context) error {
	start := time.Now()
	err := w.next.Check(ctx)
	w.observe(OpCheck, start, err)
	return err
}
