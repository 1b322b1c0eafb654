package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The sweep's metrics: a gauge of what is left, a counter of what was revoked, labelled by
// engine only; Forget drops the gauge and keeps the counter.
func TestOrphanMetrics(t *testing.T) {
	m := NewOrphanMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)

	m.Swept("TokenEngine", "team-a/engine", 3, 0)
	if got := value(t, m.orphans.WithLabelValues("team-a/engine", "TokenEngine")); got != 3 {
		t.Errorf("orphans = %v, want 3", got)
	}
	if got := value(t, m.revoked.WithLabelValues("team-a/engine", "TokenEngine")); got != 0 {
		t.Errorf("revoked = %v, want 0 (exported from the first sweep)", got)
	}
	m.Swept("TokenEngine", "team-a/engine", 1, 2)
	if got := value(t, m.orphans.WithLabelValues("team-a/engine", "TokenEngine")); got != 1 {
		t.Errorf("orphans = %v, want 1", got)
	}
	if got := value(t, m.revoked.WithLabelValues("team-a/engine", "TokenEngine")); got != 2 {
		t.Errorf("revoked = %v, want 2", got)
	}
	m.Forget("TokenEngine", "team-a/engine")
	if n := len(collect(m.orphans)); n != 0 {
		t.Errorf("%d orphan gauges after Forget, want 0", n)
	}
	if n := len(collect(m.revoked)); n != 1 {
		t.Errorf("%d revoked counters after Forget, want 1", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if problems := lintProblems(t, families, true); len(problems) > 0 {
		t.Errorf("promlint: %v", problems)
	}
}
