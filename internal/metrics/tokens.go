package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// Kind label values of the token metrics.
const (
	KindDatabaseToken = "DatabaseToken"
	KindSystemToken   = "SystemToken"
)

// DefaultListTimeout bounds a scrape's wait for an informer that has started but not synced.
const DefaultListTimeout = time.Second

var (
	expiryDesc = prometheus.NewDesc("token_operator_token_expiry_timestamp_seconds",
		"When the token resource's live token expires (status.current.expiresAt), in Unix seconds; absent when it never expires.",
		[]string{"namespace", "name", "kind"}, nil)
	renewalDesc = prometheus.NewDesc("token_operator_token_renewal_timestamp_seconds",
		"When the token resource's successor will be minted (status.current.renewAt), in Unix seconds; absent without rotation.",
		[]string{"namespace", "name", "kind"}, nil)
	tokensDesc = prometheus.NewDesc("token_operator_tokens",
		`Token resources by kind and by their Ready condition's status (True, False, Unknown) and reason; ready="Unknown" with an empty reason before the first reconcile.`,
		[]string{"kind", "ready", "reason"}, nil)
)

// TokenCollector computes the per-token gauges from the manager's cache at scrape time, so the
// reconcilers keep no metric state, deleted tokens leave no stale series, and a scrape makes no
// API call.
type TokenCollector struct {
	// Reader lists tokens; the manager's cache.
	Reader client.Reader
	// ListTimeout bounds the wait for a syncing informer; DefaultListTimeout when zero.
	ListTimeout time.Duration
	// Log receives list failures at V(1) only: a scrape every few seconds must not flood the log.
	Log logr.Logger
}

var _ prometheus.Collector = (*TokenCollector)(nil)

// NewTokenCollector returns a TokenCollector over r.
func NewTokenCollector(r client.Reader, log logr.Logger) *TokenCollector {
	return &TokenCollector{Reader: r, ListTimeout: DefaultListTimeout, Log: log}
}

// registered is the collector RegisterTokenCollector put on controller-runtime's registry.
var registered struct {
	sync.Mutex
	c *TokenCollector
}

// RegisterTokenCollector registers a TokenCollector over r on controller-runtime's registry,
// which the manager's /metrics endpoint serves. It replaces the one a previous call registered,
// so that a manager started again in the same process does not report an old cache.
func RegisterTokenCollector(r client.Reader, log logr.Logger) error {
	registered.Lock()
	defer registered.Unlock()
	if registered.c != nil {
		crmetrics.Registry.Unregister(registered.c)
	}
	c := NewTokenCollector(r, log)
	if err := crmetrics.Registry.Register(c); err != nil {
		return err
	}
	registered.c = c
	return nil
}

// Describe implements prometheus.Collector.
func (c *TokenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- expiryDesc
	ch <- renewalDesc
	ch <- tokensDesc
}

type countKey struct{ kind, ready, reason string }

// Collect implements prometheus.Collector. A kind whose informer cannot be read (the cache not
// started or still syncing) is left out of this scrape rather than failing it: controller-runtime
// serves /metrics with HTTPErrorOnError, so an error here would hide every other metric.
func (c *TokenCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[countKey]int{}
	var db tokensv1.DatabaseTokenList
	if c.list(&db) {
		for i := range db.Items {
			t := &db.Items[i]
			c.collectOne(ch, counts, KindDatabaseToken, &t.ObjectMeta, &t.Status.TokenStatus)
		}
	}
	var sys tokensv1.SystemTokenList
	if c.list(&sys) {
		for i := range sys.Items {
			t := &sys.Items[i]
			c.collectOne(ch, counts, KindSystemToken, &t.ObjectMeta, &t.Status.TokenStatus)
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(tokensDesc, prometheus.GaugeValue, float64(n), k.kind, k.ready, k.reason)
	}
}

func (c *TokenCollector) collectOne(ch chan<- prometheus.Metric, counts map[countKey]int, kind string, m *metav1.ObjectMeta, s *tokensv1.TokenStatus) {
	key := countKey{kind: kind, ready: string(metav1.ConditionUnknown)}
	if ready := meta.FindStatusCondition(s.Conditions, tokensv1.ConditionReady); ready != nil {
		key.ready, key.reason = string(ready.Status), ready.Reason
	}
	counts[key]++
	if s.Current == nil {
		return
	}
	if s.Current.ExpiresAt != nil {
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, unixSeconds(s.Current.ExpiresAt), m.Namespace, m.Name, kind)
	}
	if s.Current.RenewAt != nil {
		ch <- prometheus.MustNewConstMetric(renewalDesc, prometheus.GaugeValue, unixSeconds(s.Current.RenewAt), m.Namespace, m.Name, kind)
	}
}

func unixSeconds(t *metav1.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// list reads every token of one kind; false means skip the kind in this scrape.
func (c *TokenCollector) list(l client.ObjectList) bool {
	timeout := c.ListTimeout
	if timeout <= 0 {
		timeout = DefaultListTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Read-only, so no deep copy: a scrape of 10,000 tokens would otherwise copy all of them.
	if err := c.Reader.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
		var notStarted *cache.ErrCacheNotStarted
		if !errors.As(err, &notStarted) && ctx.Err() == nil {
			c.Log.V(1).Info("Skipped token metrics: listing tokens from the cache failed", "error", err.Error())
		}
		return false
	}
	return true
}
