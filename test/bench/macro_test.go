//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/testutil"
)

// size is what one run creates.
type size struct {
	name   string
	tokens int
	// unrelated is how many 100 KiB Secrets nobody manages are created before the manager starts,
	// in the namespace of its tokens: what keeps them out of its cache is the cache's label
	// selector (controllers/cache.go), as in a cluster the manager watches whole.
	unrelated int
	// rounds of the operator, each between two baseline rounds: this shared machine's speed
	// drifts by tens of percent over a minute (two adjacent 10,000-token baseline rounds took
	// 215 and 177 s), so one round against baselines before and after can catch a slow spell
	// on one side only.
	rounds int
}

// benchSizes is 1,000 tokens in 5 rounds, and with BENCH_FULL=1 also the 10,000 tokens
// plus 1,000 unrelated 100 KiB Secrets in 3 rounds (~3 minutes each), each size on a control
// plane of its own, in one run (for t(10k)/t(1k): every round starts from the same cluster,
// cluster.reset, and adds its N tokens, so the larger size's rounds run on 10 times the tokens).
func benchSizes() []size {
	// A 1,000-token round takes 13 to 22 s, short enough for a slow spell of the machine to
	// cover a whole round: five of them cost a minute more than three, and the median of five
	// is what t(10k)/t(1k) divides by.
	sizes := []size{{name: "1k", tokens: 1_000, rounds: 5}}
	if os.Getenv("BENCH_FULL") == "1" {
		sizes = append(sizes, size{name: "10k+unrelated", tokens: 10_000, unrelated: 1_000, rounds: 3})
	}
	return sizes
}

// macroResult is one run's figures: op and base are the rounds' durations, in order (the
// baseline's one more than the operator's, around them); ratio the median of each operator
// round's against the mean of the baselines on either side.
type macroResult struct {
	op, base           []time.Duration
	ratio              float64
	calls              []string
	cpu, engineCPU     time.Duration
	opPlane, basePlane []planeCPU // the control plane's CPU during each round, in order
	peak               int64
	load               string
}

// BenchmarkMacro: N DatabaseTokens to Ready through the real manager and engine processes,
// against a bare client making the operator's writes per token (create, the finalizer with the
// intent annotation, Secret create, status patch, event: docs/design.md §3) with as many
// workers, in rounds alternating with the operator's on the same control plane (runMacro).
// ratio-vs-writes near 1 means the operator is limited by the API server (docs/design.md §8).
// API calls per token by verb come from apiserver_request_total and include the benchmark's own
// create of each token; the manager's CPU and peak RSS (VmHWM) from /proc.
func BenchmarkMacro(b *testing.B) {
	results := map[string]macroResult{}
	for _, s := range benchSizes() {
		b.Run(s.name, func(b *testing.B) {
			var r macroResult
			for b.Loop() {
				r = runMacro(b, s)
			}
			results[s.name] = r
			report(b, s, r)
		})
	}
	small, large := results["1k"], results["10k+unrelated"]
	if len(small.op) > 0 && len(large.op) > 0 {
		// A parent benchmark's b.Logf is not shown: print. The baseline's own growth says how
		// much of the operator's is the control plane's (more objects, another load).
		op := median(large.op).Seconds() / median(small.op).Seconds()
		base := median(large.base).Seconds() / median(small.base).Seconds()
		fmt.Printf("t(10k)/t(1k) = %.2f for the operator, %.2f for the baseline (linear: 10); the operator's growth over the control plane's: %.3f\n",
			op, base, op/base)
	}
}

// median is the middle of ds (the mean of the two middle ones for an even count), 0 for none.
func median[T time.Duration | float64](ds []T) T {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(b *testing.B, s size, r macroResult) {
	n := float64(s.tokens)
	op, base := median(r.op), median(r.base)
	b.ReportMetric(n/op.Seconds(), "tokens/s")
	if base > 0 {
		b.ReportMetric(n/base.Seconds(), "baseline-tokens/s")
		b.ReportMetric(r.ratio, "ratio-vs-writes")
	}
	b.ReportMetric(float64(r.cpu.Milliseconds())/n, "manager-cpu-ms/token")
	b.ReportMetric(float64(r.engineCPU.Milliseconds())/n, "engine-cpu-ms/token")
	msPerToken := func(ps []planeCPU) float64 {
		ms := make([]float64, len(ps))
		for i, p := range ps {
			ms[i] = float64(p.total().Milliseconds()) / n
		}
		return median(ms)
	}
	b.ReportMetric(msPerToken(r.opPlane), "apiserver-cpu-ms/token")
	if len(r.basePlane) > 0 {
		b.ReportMetric(msPerToken(r.basePlane), "baseline-apiserver-cpu-ms/token")
	}
	b.ReportMetric(float64(r.peak)/(1<<20), "manager-peak-MiB")
	b.Logf("%d tokens (+%d unrelated 100 KiB Secrets), rounds in order: baseline %s, operator %s; load average %s",
		s.tokens, s.unrelated, seconds(r.base), seconds(r.op), r.load)
	b.Logf("control plane CPU per token (kube-apiserver + etcd), rounds in order: baseline %s, operator %s",
		planeMillis(r.basePlane, n), planeMillis(r.opPlane, n))
	b.Logf("API calls per token during the operator run (the benchmark's create included):\n  %s", strings.Join(r.calls, "\n  "))
}

func planeMillis(ps []planeCPU, n float64) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%.1f + %.1f ms", float64(p.apiserver.Milliseconds())/n, float64(p.etcd.Milliseconds())/n)
	}
	return strings.Join(out, ", ")
}

func seconds(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%.1f s", d.Seconds())
	}
	return strings.Join(out, ", ")
}

// runMacro alternates baseline and operator rounds on one control plane: baseline, operator,
// baseline, … baseline, each from the same cluster (cluster.reset). The API calls, the
// manager's and the engine's CPU, its peak RSS and profiles are the first operator round's; the
// control plane's CPU and profiles every round's.
func runMacro(b *testing.B, s size) macroResult {
	c := newCluster(b)
	ctx := context.Background()
	if s.unrelated > 0 {
		data := map[string][]byte{"blob": make([]byte, 100<<10)}
		must(b, fanOut(s.unrelated, creators, func(i int) error {
			return c.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: numbered("unrelated-", i), Namespace: tokensNamespace}, Data: data})
		}))
	}
	var r macroResult
	r.load = loadAverage()
	noBaseline := os.Getenv("BENCH_NO_BASELINE") == "1"
	// A control plane profile covers a whole round, and the next round waits for its end: a
	// round's CPU per function over its tokens is then comparable with another round's, which a
	// profile of the rounds' first minute is not (the operator's round creates its tokens
	// faster than it mints them, the baseline's at the pace it mints them).
	profileSeconds := s.tokens / 25 // without a warm-up to size it: 40 s for 1,000 tokens, ~3x the round
	baselineRound := func(round int) {
		if noBaseline {
			return
		}
		name := fmt.Sprintf("b%d-", round)
		p0 := controlPlaneCPU(b)
		profiled := c.startAPIServerProfile(s.name+"-"+name, profileSeconds)
		r.base = append(r.base, baseline(b, c, s.tokens, name))
		r.basePlane = append(r.basePlane, controlPlaneCPU(b).sub(p0))
		<-profiled
		c.reset(baselineNamespace, name, s.tokens, false)
	}
	if !noBaseline {
		// The first writes into a fresh API server were its cheapest: at 10,000 tokens, with the
		// rounds piling up, a first baseline round cost it 14.3 ms of CPU per token, the
		// operator's round after it 19.3 ms, the next baseline round 20.0 ms (kube-apiserver
		// profiles: allocation and GC per token doubled). Whatever of that a reset does not undo
		// (the server's heap, its caches) should not credit the first baseline round, so a
		// warm-up round of the baseline's writes, not measured, goes first.
		w := baseline(b, c, s.tokens, "w-")
		b.Logf("warm-up: %d tokens of baseline writes in %.1f s", s.tokens, w.Seconds())
		profileSeconds = int(2 * w.Seconds())
		c.reset(baselineNamespace, "w-", s.tokens, false)
	}
	baselineRound(0)
	c.startManager()
	for round := range s.rounds {
		prefix := fmt.Sprintf("t%d-", round)
		ready := startTrackerFromNow(b, c, tokensNamespace, readyNamed(prefix))
		before, u0, e0, p0 := c.requestCounts(), usageOf(b, c.manager), usageOf(b, c.engine), controlPlaneCPU(b)
		profiled := c.startAPIServerProfile(s.name+"-"+prefix, profileSeconds)
		managerProfiled := closed()
		if round == 0 {
			managerProfiled = c.startCPUProfile(15)
		}
		start := time.Now()
		must(b, fanOut(s.tokens, creators, func(i int) error {
			return c.k8s.Create(ctx, testutil.DatabaseToken(numbered(prefix, i), testutil.InNamespace(tokensNamespace)))
		}))
		ready.wait(b, s.tokens, max(5*time.Minute, time.Duration(s.tokens)*100*time.Millisecond))
		r.op = append(r.op, ready.last().Sub(start))
		ready.stop()
		ready.logRestarts(b, fmt.Sprintf("operator round %d", round))
		after, u1, e1 := c.requestCounts(), usageOf(b, c.manager), usageOf(b, c.engine)
		r.opPlane = append(r.opPlane, controlPlaneCPU(b).sub(p0))
		if round == 0 {
			// The peak while the manager minted and held N tokens the first time.
			r.peak = u1.peak
			r.cpu, r.engineCPU = u1.cpu-u0.cpu, e1.cpu-e0.cpu
			r.calls = perToken(before, after, s.tokens, isWatch)
		} else {
			// Whether a round that cost the control plane more per token than the first made
			// more calls (conflicts, retries) or the same calls at a higher price.
			b.Logf("operator round %d, API calls per token: %s", round, strings.Join(perToken(before, after, s.tokens, isWatch), ", "))
		}
		logRelists(b, fmt.Sprintf("operator round %d", round), before, after)
		<-profiled
		<-managerProfiled
		b.Logf("manager after operator round %d, holding %d tokens: %d MiB anonymous, %d MiB file-backed (the binary); peak so far %d MiB",
			round, s.tokens, u1.rssAnon>>20, u1.rssFile>>20, u1.peak>>20)
		if round == 0 {
			c.saveHeapProfile()
		}
		c.reset(tokensNamespace, prefix, s.tokens, true)
		baselineRound(round + 1)
	}
	if !noBaseline {
		ratios := make([]float64, len(r.op))
		for i, op := range r.op {
			ratios[i] = ((r.base[i] + r.base[i+1]) / 2).Seconds() / op.Seconds()
		}
		r.ratio = median(ratios)
		b.Logf("operator / bare client by round: %s (the median counts)", strings.Trim(fmt.Sprintf("%.3f", ratios), "[]"))
	}
	return r
}

// numbered is the name of the i-th of the objects the benchmark names with prefix: a round's
// tokens and Secrets, which cluster.reset deletes by their round's prefix.
func numbered(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// isWatch: watches are not per token.
func isWatch(call string) bool { return strings.HasPrefix(call, "WATCH") }

// logRelists says how many LISTs the API server served during a round (perToken leaves out what
// is not per token): a manager that lists again what it caches costs the API server a namespace.
func logRelists(b testing.TB, round string, before, after map[string]float64) {
	var lists []string
	for k, v := range after {
		if d := v - before[k]; d > 0 && strings.HasPrefix(k, "LIST ") {
			lists = append(lists, fmt.Sprintf("%s %.0f", k, d))
		}
	}
	if len(lists) > 0 {
		sort.Strings(lists)
		b.Logf("%s: %s", round, strings.Join(lists, ", "))
	}
}

// isReady: the token's Secret holds a recorded, live token.
func isReady(d *tokensv1.DatabaseToken) bool {
	return d.Status.Current != nil && d.Status.Pending == nil && meta.IsStatusConditionTrue(d.Status.Conditions, tokensv1.ConditionReady)
}

// readyNamed is isReady for the tokens of one round, named with prefix.
func readyNamed(prefix string) func(*tokensv1.DatabaseToken) bool {
	return func(d *tokensv1.DatabaseToken) bool { return strings.HasPrefix(d.Name, prefix) && isReady(d) }
}

// baseline makes the operator's API writes for n tokens with creators workers and nothing else
// (no engine, cache or decisions) and returns how long they took to Ready. It ends as the
// operator's run does, at the last Ready the benchmark's watch saw, so that watch costs both
// runs alike (its decoding shares the CPUs with the API server in both).
func baseline(b *testing.B, c *cluster, n int, round string) time.Duration {
	ctx := context.Background()
	ready := startTrackerFromNow(b, c, baselineNamespace, readyNamed(round))
	defer ready.stop()
	start := time.Now()
	must(b, fanOut(n, creators, func(i int) error { return baselineMint(ctx, c.k8s, numbered(round, i)) }))
	ready.wait(b, n, time.Minute)
	ready.logRestarts(b, "baseline round "+round)
	return ready.last().Sub(start)
}

// baselineMint makes the writes the operator makes for a first mint (docs/design.md §3), with
// the same content: the intent as the operator records it, the Secret with our labels,
// annotations and owner, the status the operator writes (its four conditions and the whole
// current record) and the event. What the API server does per write grows with the object, so
// a baseline of smaller objects would not be the ceiling for the operator's writes.
func baselineMint(ctx context.Context, k8s client.Client, name string) error {
	obj := testutil.DatabaseToken(name, testutil.InNamespace(baselineNamespace))
	if err := k8s.Create(ctx, obj); err != nil {
		return err
	}
	// Step 2: the finalizer and the intent in one patch.
	now := metav1.Now()
	tokenName := lifecycle.TokenName(baselineNamespace, name, obj.UID, 1)
	const permissions = "db:telemetry:write"
	engine := &tokensv1.EngineIdentity{Kind: tokensv1.ClusterTokenEngineKind, Name: "default", UID: "296bdec8-70ec-49d9-96e0-37ebe450054a"}
	intent, err := json.Marshal(tokensv1.PendingMint{Revision: 1, TokenName: tokenName, StartedAt: &now, Permissions: permissions, Engine: engine})
	if err != nil {
		return err
	}
	patch := client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	obj.Finalizers = []string{tokensv1.Finalizer}
	obj.Annotations = map[string]string{tokensv1.PendingMintAnnotation: string(intent)}
	if err := k8s.Patch(ctx, obj, patch); err != nil {
		return err
	}
	// Step 4: the Secret, ours.
	token := []byte("apiv3_" + strings.Repeat("x", 86))
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: baselineNamespace,
		Labels:      map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue, tokensv1.OwnerUIDLabel: string(obj.UID)},
		Annotations: map[string]string{tokensv1.TokenNameAnnotation: tokenName, tokensv1.RevisionAnnotation: "1"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken", Name: name, UID: obj.UID,
			Controller: new(true), BlockOwnerDeletion: new(true)}}},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{tokensv1.TokenSecretKey: token}}
	if err := k8s.Create(ctx, sec); err != nil {
		return err
	}
	// Step 5: status as the operator writes it.
	patch = client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	st := &obj.Status.TokenStatus
	st.ObservedGeneration, st.SecretName, st.Permissions, st.Revision = 1, name, permissions, 1
	st.Current = &tokensv1.TokenRecord{TokenName: tokenName, TokenID: "5", Revision: 1, MintedAt: &now,
		Fingerprint: lifecycle.Fingerprint(obj.UID, token), Permissions: permissions, Engine: engine}
	for _, c := range []metav1.Condition{
		{Type: tokensv1.ConditionSecretConflict, Status: metav1.ConditionFalse, Reason: tokensv1.ReasonNoConflict, Message: fmt.Sprintf("Secret %q is ours or does not exist yet", name)},
		{Type: tokensv1.ConditionReady, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonMinted, Message: fmt.Sprintf("Secret %q holds token %q (revision 1); it never expires", name, tokenName)},
		{Type: tokensv1.ConditionEngineReachable, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonReachable, Message: `ClusterTokenEngine "default" answered`},
		{Type: tokensv1.ConditionExpired, Status: metav1.ConditionFalse, Reason: tokensv1.ReasonNotExpired, Message: "The token has not reached its expiry"},
	} {
		c.ObservedGeneration = 1
		meta.SetStatusCondition(&st.Conditions, c)
	}
	if err := k8s.Status().Patch(ctx, obj, patch); err != nil {
		return err
	}
	return k8s.Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name + ".minted", Namespace: baselineNamespace},
		EventTime:  metav1.NowMicro(), ReportingController: "token-operator", ReportingInstance: "bench",
		Action: "Mint", Reason: tokensv1.ReasonMinted, Type: corev1.EventTypeNormal,
		Note:      fmt.Sprintf("Minted token %q (revision 1) into Secret %q", tokenName, name),
		Regarding: corev1.ObjectReference{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken", Namespace: baselineNamespace, Name: name, UID: obj.UID, ResourceVersion: obj.ResourceVersion},
	})
}
