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
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
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
// manager and engine. Two lags per token, from status.current.expiresAt:
//   - revocation (issue 19's target): until the engine no longer holds the token, seen by
//     listing the engine's tokens every revocationPoll (an upper bound: the time of the answer);
//   - status: until the benchmark's watch sees Expired=True (credential keys removed, status
//     written), which API writes bound (docs/design.md §8).
//
// Reported: p50, p99 and max of both, and the spread of the expiries actually recorded.
func BenchmarkExpiryLag(b *testing.B) {
	var r expiryResult
	for b.Loop() {
		r = runExpiry(b)
	}
	b.ReportMetric(percentile(r.revoked, 0.50).Seconds(), "p50-revocation-lag-s")
	b.ReportMetric(percentile(r.revoked, 0.99).Seconds(), "p99-revocation-lag-s")
	b.ReportMetric(percentile(r.revoked, 1).Seconds(), "max-revocation-lag-s")
	b.ReportMetric(percentile(r.status, 0.50).Seconds(), "p50-status-lag-s")
	b.ReportMetric(percentile(r.status, 0.99).Seconds(), "p99-status-lag-s")
	b.ReportMetric(r.spread.Seconds(), "expiry-spread-s")
	b.Logf("%d expiries within %s; %d revocations seen; load average %s", len(r.status), r.spread, len(r.revoked), loadAverage())
}

// revocationPoll is how often BenchmarkExpiryLag lists the engine's tokens.
const revocationPoll = 100 * time.Millisecond

type expiryResult struct {
	revoked, status []time.Duration
	spread          time.Duration
}

func runExpiry(b *testing.B) expiryResult {
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
			d := testutil.DatabaseToken(numbered("e", i), testutil.InNamespace(tokensNamespace), testutil.ExpiresAfter(fmt.Sprintf("%ds", secs)))
			if err := c.k8s.Create(ctx, d); err != nil {
				b.Error(err)
			}
		}()
	}
	ready.wait(b, expiringTokens, 5*time.Minute)
	expiresAt := map[string]time.Time{} // engine-side token name → its expiry
	ready.mu.Lock()
	for name, d := range ready.tokens {
		if d.Status.Current == nil || d.Status.Current.ExpiresAt == nil {
			b.Fatalf("%s: no recorded expiry", name)
		}
		expiresAt[d.Status.Current.TokenName] = d.Status.Current.ExpiresAt.Time
	}
	ready.mu.Unlock()
	pollCtx, stopPoll := context.WithCancel(ctx)
	gone := make(chan map[string]time.Time, 1)
	go func() { gone <- c.watchRevocations(b, pollCtx, expiresAt) }()
	expired.wait(b, expiringTokens, time.Until(at)+5*time.Minute)
	stopPoll()
	revokedAt := <-gone

	var r expiryResult
	for name, t := range revokedAt {
		r.revoked = append(r.revoked, t.Sub(expiresAt[name]))
	}
	if len(r.revoked) != len(expiresAt) {
		b.Errorf("%d of %d expired tokens are still in the engine", len(expiresAt)-len(r.revoked), len(expiresAt))
	}
	var first, last time.Time
	ready.mu.Lock()
	expired.mu.Lock()
	defer ready.mu.Unlock()
	defer expired.mu.Unlock()
	for name, seen := range expired.seen {
		exp := ready.tokens[name].Status.Current.ExpiresAt.Time
		r.status = append(r.status, seen.Sub(exp))
		if first.IsZero() || exp.Before(first) {
			first = exp
		}
		if exp.After(last) {
			last = exp
		}
	}
	r.spread = last.Sub(first)
	return r
}

// watchRevocations lists the engine's tokens every revocationPoll until ctx ends (and once
// more) and returns, for each name in expiresAt, when a listing first answered without it.
func (c *cluster) watchRevocations(b *testing.B, ctx context.Context, expiresAt map[string]time.Time) map[string]time.Time {
	eng, err := influxdb3.New(httpapi.Config{URL: c.engineURL}, engine.Plaintext(c.engineKey))
	if err != nil {
		b.Error(err)
		return nil
	}
	gone := map[string]time.Time{}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true // one last listing
		case <-time.After(revocationPoll):
		}
		listed, err := eng.List(context.Background(), "k8s.")
		if err != nil {
			b.Logf("listing the engine's tokens: %v", err)
			continue
		}
		answered := time.Now()
		held := make(map[string]bool, len(listed))
		for _, t := range listed {
			held[t.Name] = true
		}
		for name := range expiresAt {
			if _, seen := gone[name]; !seen && !held[name] {
				gone[name] = answered
			}
		}
	}
	return gone
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
// status patch, Secret patch, current status patch, and one event.
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
			at := lifecycle.RenewAt(expires, renewBefore, lifecycle.TokenName("team-a", numbered("app-", i), "0a1b2c3d-0000-4000-8000-000000000000", 1))
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
