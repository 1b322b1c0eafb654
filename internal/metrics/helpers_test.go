package metrics

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// These stand in for prometheus/testutil's ToFloat64, CollectAndCount and GatherAndCompare,
// whose package would add a module (kylelemons/godebug) to go.mod for a text diff.

// value returns the value of the one counter or gauge c collects.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ms := collect(c)
	if len(ms) != 1 {
		t.Fatalf("collected %d metrics, want 1", len(ms))
	}
	pb := &dto.Metric{}
	if err := ms[0].Write(pb); err != nil {
		t.Fatal(err)
	}
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %s", pb)
	return 0
}

func collect(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	var out []prometheus.Metric
	for m := range ch {
		out = append(out, m)
	}
	return out
}

// exposition renders the named families of g in the text format, in the registry's order
// (sorted by name and labels), for comparison with a literal.
func exposition(t *testing.T, g prometheus.Gatherer, names ...string) string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b strings.Builder
	for _, f := range families {
		if len(names) > 0 && !contains(names, f.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lintProblems runs promtool's metric linter over families, keeping only ours (prefix
// token_operator_) when ownOnly is set.
func lintProblems(t *testing.T, families []*dto.MetricFamily, ownOnly bool) []string {
	t.Helper()
	var keep []*dto.MetricFamily
	for _, f := range families {
		if !ownOnly || strings.HasPrefix(f.GetName(), "token_operator_") {
			keep = append(keep, f)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(keep).Lint()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range problems {
		out = append(out, fmt.Sprintf("%s: %s", p.Metric, p.Text))
	}
	return out
}

// testLogger sends the collector's log lines to the test log.
func testLogger(t *testing.T) logr.Logger {
	return testr.NewWithOptions(t, testr.Options{Verbosity: 1})
}

func crRegistry() prometheus.Gatherer { return crmetrics.Registry }
