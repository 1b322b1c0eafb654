//go:build linux

package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/testutil"
)

// expiringTokens is how many tokens expire together in BenchmarkExpiryLag (issue 19 item 1).
const expiringTokens = 1_000

// expiryCreateRate paces the creation so that each token is minted soon after it is created,
// whatever the machine's load: its expiresAfter is computed from its creation time.
const expiryCreateRate = 20 // tokens per second

// BenchmarkExpiryLag: 1,000 tokens whose expiries fall in the same few seconds (expiresAfter
// is chosen per token so that creation time + expiresAfter is one instant), through the real
// manager and engine; the lag is from status.current.expiresAt to the moment the benchmark's
// watch sees Expired=True (revoked in the engine, credential keys removed, status written).
// Reported: p50, p99 and max lag, and the spread of the expiries actually recorded.
func BenchmarkExpiryLag(b *testing.B) {
	var lags []time.Duration
	var spread time.Duration
	for b.Loop() {
		lags, spread = runExpiry(b)
	}
	b.ReportMetric(percentile(lags, 0.50).Seconds(), "p50-lag-s")
	b.ReportMetric(percentile(lags, 0.99).Seconds(), "p99-lag-s")
	b.ReportMetric(percentile(lags, 1).Seconds(), "max-lag-s")
	b.ReportMetric(spread.Seconds(), "expiry-spread-s")
	b.Logf("%d expiries within %s; load average %s", len(lags), spread, loadAverage())
}

func runExpiry(b *testing.B) ([]time.Duration, time.Duration) {
	c := newCluster(b)
	c.startManager()
	ctx := context.Background()
	ready := startTracker(b, c, tokensNamespace, isReady)
	expired := startTracker(b, c, tokensNamespace, func(d *tokensv1.DatabaseToken) bool {
		return meta.IsStatusConditionTrue(d.Status.Conditions, tokensv1.ConditionExpired)
	})
	creating := time.Duration(expiringTokens/expiryCreateRate) * time.Second
	at := time.Now().Add(creating + 30*time.Second).Truncate(time.Second)
	tick := time.NewTicker(time.Second / expiryCreateRate)
	defer tick.Stop()
	for i := range expiringTokens {
		<-tick.C
		secs := int(math.Ceil(time.Until(at).Seconds()))
		go func() {
			d := testutil.DatabaseToken(fmt.Sprintf("e%05d", i), testutil.InNamespace(tokensNamespace), testutil.ExpiresAfter(fmt.Sprintf("%ds", secs)))
			if err := c.k8s.Create(ctx, d); err != nil {
				b.Error(err)
			}
		}()
	}
	ready.wait(b, expiringTokens, 5*time.Minute)
	expired.wait(b, expiringTokens, time.Until(at)+5*time.Minute)

	var lags []time.Duration
	var first, last time.Time
	ready.mu.Lock()
	expired.mu.Lock()
	defer ready.mu.Unlock()
	defer expired.mu.Unlock()
	for name, seen := range expired.seen {
		d := ready.tokens[name]
		if d == nil || d.Status.Current == nil || d.Status.Current.ExpiresAt == nil {
			b.Fatalf("%s: no recorded expiry", name)
		}
		exp := d.Status.Current.ExpiresAt.Time
		lags = append(lags, seen.Sub(exp))
		if first.IsZero() || exp.Before(first) {
			first = exp
		}
		if exp.After(last) {
			last = exp
		}
	}
	return lags, last.Sub(first)
}

// percentile returns the p-quantile (0 < p ≤ 1) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// renewingTokens is how many tokens renew together in BenchmarkRenewalSpread.
const renewingTokens = 10_000

// writesPerRenewal is what a successor on an existing Secret costs (docs/design.md §8): pending
// status patch, Secret update, current status patch, and one event.
const writesPerRenewal = 4

// BenchmarkRenewalSpread: 10,000 tokens minted in the same second with expiresAfter 30d and
// renewBefore 7d (the documented example) would renew in the same hour without jitter. It
// computes their renewal instants with lifecycle.RenewAt, the function the manager schedules
// with (docs/design.md §4), and reports the spread and the peak renewals and API writes per
// second. A computation, not a measurement on the control plane: waiting for the renewal hour
// is not a benchmark.
func BenchmarkRenewalSpread(b *testing.B) {
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const renewBefore = 7 * 24 * time.Hour
	var spread time.Duration
	var peak int
	for b.Loop() {
		perSecond := map[int64]int{}
		var first, last time.Time
		for i := range renewingTokens {
			at := lifecycle.RenewAt(expires, renewBefore, lifecycle.TokenName("team-a", fmt.Sprintf("app-%05d", i), "0a1b2c3d-0000-4000-8000-000000000000", 1))
			perSecond[at.Unix()]++
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		spread, peak = last.Sub(first), 0
		for _, n := range perSecond {
			peak = max(peak, n)
		}
	}
	b.ReportMetric(spread.Seconds(), "spread-s")
	b.ReportMetric(float64(peak), "peak-renewals/s")
	b.ReportMetric(float64(peak*writesPerRenewal), "peak-writes/s")
	b.ReportMetric(float64(renewingTokens)/spread.Seconds(), "mean-renewals/s")
}
