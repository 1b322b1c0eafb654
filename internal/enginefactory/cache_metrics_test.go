package enginefactory

import (
	"context"
	"testing"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// requestCount reads token_operator_engine_requests_total for one series from the registry the
// manager serves.
func requestCount(t *testing.T, labels map[string]string) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "token_operator_engine_requests_total" {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no token_operator_engine_requests_total series %v", labels)
	return 0
}

// TestCachedClientsAreInstrumented: a client served by the cache counts its calls under the
// engine resource it was built from, a TokenEngine named with its namespace.
func TestCachedClientsAreInstrumented(t *testing.T) {
	obj := namespacedEngine()
	c := NewCache(newFactory(secret(obj.Namespace, "admin", map[string]string{"token": secretToken})))
	b, err := c.Get(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]string{"engine": "team-a/own", "engine_kind": "TokenEngine", "engine_type": "influxdb3",
		"operation": "check", "outcome": "transient"}
	before := requestCount(t, series)
	// A cancelled context fails the call before any network I/O: a transient outcome.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Engine.Check(ctx); err == nil {
		t.Fatal("Check with a cancelled context succeeded")
	}
	if got := requestCount(t, series); got != before+1 {
		t.Errorf("check requests = %v, want %v", got, before+1)
	}
}
