package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/fake"
)

// newInstrumented returns a fake engine, its instrumented wrapper and the metrics on a private
// registry, so tests do not share counters.
func newInstrumented(t *testing.T) (*fake.Engine, engine.Engine, *EngineMetrics, *prometheus.Registry) {
	t.Helper()
	m := NewEngineMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	f := fake.New()
	return f, m.Wrap(f, "ClusterTokenEngine", "default", "influxdb3"), m, reg
}

func requests(t *testing.T, m *EngineMetrics, op, outcome string) float64 {
	return value(t, m.requests.WithLabelValues("default", "ClusterTokenEngine", "influxdb3", op, outcome))
}

// observations returns how many durations op recorded, read from the gathered histogram.
func observations(t *testing.T, reg prometheus.Gatherer, op string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "token_operator_engine_request_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "operation" && l.GetValue() == op {
					return s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	t.Fatalf("no duration histogram for operation %s", op)
	return 0
}

var mintReq = engine.MintRequest{Name: "k8s.ns.a.12345678.r1", Permissions: []engine.Permission{
	{Type: engine.ResourceDatabase, Names: []string{"telemetry"}, Actions: []engine.Action{engine.ActionWrite}},
}}

// TestWrapPassesCallsThrough: the decorator changes nothing the caller sees.
func TestWrapPassesCallsThrough(t *testing.T) {
	ctx := context.Background()
	f, e, _, _ := newInstrumented(t)
	minted, err := e.Mint(ctx, mintReq)
	if err != nil || minted.Name != mintReq.Name || minted.Token == "" {
		t.Fatalf("Mint = %+v, %v", minted, err)
	}
	info, err := e.Lookup(ctx, mintReq.Name)
	if err != nil || info.ID != minted.ID {
		t.Fatalf("Lookup = %+v, %v; want ID %s", info, err, minted.ID)
	}
	list, err := e.List(ctx, "k8s.ns.")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := e.Revoke(ctx, mintReq.Name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Lookup(ctx, mintReq.Name); !engine.IsNotFound(err) {
		t.Fatalf("Lookup after Revoke = %v, want NotFound", err)
	}
	injected := engine.PendingErrorf(5, "wait").WithReason("DatabaseNotFound")
	f.FailNext(fake.OpCheck, injected)
	if err := e.Check(ctx); !errors.Is(err, injected) {
		t.Fatalf("Check = %v, want the engine's own error", err)
	}
}

// TestWrapCountsEachOutcome: every call is counted once under its operation and outcome and
// timed once; mints and revocations are counted only when they succeed.
func TestWrapCountsEachOutcome(t *testing.T) {
	ctx := context.Background()
	f, e, m, reg := newInstrumented(t)

	// Successes of every operation.
	if _, err := e.Mint(ctx, mintReq); err != nil {
		t.Fatal(err)
	}
	_, _ = e.Lookup(ctx, mintReq.Name)
	_, _ = e.List(ctx, "k8s.")
	_ = e.Check(ctx)
	_ = e.Revoke(ctx, mintReq.Name, "")

	// One failure of each kind, by injection, plus a real NotFound and a real Conflict.
	f.FailNext(fake.OpMint, engine.PermanentErrorf("bad shape"), engine.PendingErrorf(1, "activating"))
	_, _ = e.Mint(ctx, mintReq)
	_, _ = e.Mint(ctx, mintReq)
	_, _ = e.Lookup(ctx, "absent")                  // not_found, from the engine itself
	if _, err := e.Mint(ctx, mintReq); err != nil { // success again: name free after Revoke
		t.Fatal(err)
	}
	_, _ = e.Mint(ctx, mintReq) // conflict: the name exists
	f.SetUnauthorized(true)
	_ = e.Revoke(ctx, mintReq.Name, "")
	f.SetUnauthorized(false)
	f.SetDown(true)
	_ = e.Check(ctx)
	_, _ = e.List(ctx, "k8s.")
	f.SetDown(false)
	f.FailNext(fake.OpLookup, errors.New("not an engine error")) // unclassified: transient
	_, _ = e.Lookup(ctx, mintReq.Name)

	want := map[[2]string]float64{
		{OpMint, OutcomeSuccess}: 2, {OpMint, "permanent"}: 1, {OpMint, "pending"}: 1, {OpMint, "conflict"}: 1,
		{OpLookup, OutcomeSuccess}: 1, {OpLookup, "not_found"}: 1, {OpLookup, "transient"}: 1,
		{OpList, OutcomeSuccess}: 1, {OpList, "transient"}: 1,
		{OpCheck, OutcomeSuccess}: 1, {OpCheck, "transient"}: 1,
		{OpRevoke, OutcomeSuccess}: 1, {OpRevoke, "unauthorized"}: 1,
	}
	var total float64
	for _, op := range []string{OpMint, OpRevoke, OpLookup, OpList, OpCheck} {
		var calls float64
		for _, outcome := range append([]string{OutcomeSuccess}, valuesOf(outcomes)...) {
			got := requests(t, m, op, outcome)
			if got != want[[2]string{op, outcome}] {
				t.Errorf("requests{operation=%s, outcome=%s} = %v, want %v", op, outcome, got, want[[2]string{op, outcome}])
			}
			calls += got
		}
		if n := observations(t, reg, op); float64(n) != calls {
			t.Errorf("duration observations for %s = %d, want one per call (%v)", op, n, calls)
		}
		total += calls
	}
	if total != 14 {
		t.Errorf("%v calls counted, want 14", total)
	}
	if got := value(t, m.minted); got != 2 {
		t.Errorf("tokens_minted_total = %v, want 2", got)
	}
	if got := value(t, m.revoked); got != 1 {
		t.Errorf("tokens_revoked_total = %v, want 1", got)
	}
}

// TestWrapExposesZeroSeries: a wrapped engine shows every operation and outcome at zero before
// its first call, so rate() and alerts work from the start, with exactly these labels.
func TestWrapExposesZeroSeries(t *testing.T) {
	_, _, m, reg := newInstrumented(t)
	want := `
# HELP token_operator_tokens_minted_total Tokens the operator minted successfully in token engines.
# TYPE token_operator_tokens_minted_total counter
token_operator_tokens_minted_total{engine="default",engine_kind="ClusterTokenEngine",engine_type="influxdb3"} 0
`
	if got := exposition(t, reg, "token_operator_tokens_minted_total"); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if n := len(collect(m.requests)); n != 5*7 {
		t.Errorf("%d request series, want 35 (5 operations × 7 outcomes)", n)
	}
	if n := len(collect(m.duration)); n != 5 {
		t.Errorf("%d duration series, want one per operation", n)
	}
}

// TestOutcomeCoversEveryKind: a new engine.Kind must get an outcome label here.
func TestOutcomeCoversEveryKind(t *testing.T) {
	for k := engine.Kind(0); k.String() != ""; k++ {
		if k == engine.Unusable {
			continue // a resolution outcome (internal/engineref): no engine call returns it
		}
		if _, ok := outcomes[k]; !ok {
			t.Errorf("engine.Kind %s has no outcome label", k)
		}
	}
	if got := Outcome(nil); got != OutcomeSuccess {
		t.Errorf("Outcome(nil) = %s", got)
	}
	if got := Outcome(engine.NotFoundErrorf("x")); got != "not_found" {
		t.Errorf("Outcome(NotFound) = %s", got)
	}
}
