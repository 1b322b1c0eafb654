package tokenengine

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Authorization decisions, the values of the decision label.
const (
	decisionAllow           = "allow"
	decisionUnauthenticated = "unauthenticated"
	decisionForbidden       = "forbidden"
	decisionBadRequest      = "bad_request"
	// decisionUnavailable is a 503: the store was not in sync, so nothing was decided.
	decisionUnavailable = "unavailable"
)

// metrics live on the engine's own registry so that tests and several engines in one process do
// not collide. Labels are route patterns, status codes and decisions: never a token, a token
// name or a database name.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	decisions map[string]prometheus.Counter
	created   prometheus.Counter
	deleted   prometheus.Counter
	purged    prometheus.Counter
}

func newMetrics(t *tokens) *metrics {
	storeReady := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tokenengine_store_ready",
		Help: "1 while the token store's reads are current, 0 while the engine answers 503 (not synced, or its watch broken too long)."},
		func() float64 {
			if t.store.Ready() != nil {
				return 0
			}
			return 1
		})
	reg := prometheus.NewRegistry()
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenengine_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{Name: "tokenengine_tokens_created_total", Help: "Tokens created, admin tokens included."}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "tokenengine_tokens_deleted_total", Help: "Tokens deleted through the API."}),
		purged:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tokenengine_tokens_purged_total", Help: "Expired tokens removed after the retention period."}),
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokenengine_authorize_decisions_total", Help: "Authorize endpoint answers by decision.",
	}, []string{"decision"})
	m.decisions = map[string]prometheus.Counter{}
	for _, d := range []string{decisionAllow, decisionUnauthenticated, decisionForbidden, decisionBadRequest, decisionUnavailable} {
		m.decisions[d] = decisions.WithLabelValues(d)
	}
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tokenengine_tokens_live", Help: "Tokens that are currently valid."},
		func() float64 { l, _ := t.counts(); return float64(l) })
	expired := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tokenengine_tokens_expired", Help: "Expired tokens still kept for the retention period."},
		func() float64 { _, e := t.counts(); return float64(e) })
	reg.MustRegister(m.requests, decisions, m.created, m.deleted, m.purged, live, expired, storeReady,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

func (m *metrics) observe(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}
