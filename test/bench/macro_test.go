//go:build linux

package bench

import (
	"cmp"
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
// plane of its own, both in one run with their rounds interleaved (runMacro; for t(10k)/t(1k):
// every round starts from the same cluster, cluster.reset, and adds its N tokens, so the larger
// size's rounds run on 10 times the tokens).
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

// macroResult is one size's figures: op and base are the rounds' durations, in order; ratios each
// operator round's against the mean of the baselines just before and after it, whose median
// counts.
type macroResult struct {
	op, base           []time.Duration
	ratios             []float64
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
// create of each token; the manager's CPU and peak RSS (VmHWM) from /proc. Each size's metrics
// carry its name.
func BenchmarkMacro(b *testing.B) {
	sizes := benchSizes()
	var results []macroResult
	for b.Loop() {
		results = runMacro(b, sizes)
	}
	for i, s := range sizes {
		report(b, s, results[i])
	}
	if len(results) == 2 {
		small, large := results[0], results[1]
		// The baseline's own growth says how much of the operator's is the control plane's
		// (more objects, another load).
		op := median(large.op).Seconds() / median(small.op).Seconds()
		b.ReportMetric(op, "t10k/t1k")
		if base := median(large.base).Seconds() / median(small.base).Seconds(); base > 0 {
			b.ReportMetric(base, "baseline-t10k/t1k")
			b.Logf("t(10k)/t(1k) = %.2f for the operator, %.2f for the baseline (linear: 10); the operator's growth over the control plane's: %.3f",
				op, base, op/base)
		}
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
	metric := func(v float64, unit string) { b.ReportMetric(v, s.name+"-"+unit) }
	op, base := median(r.op), median(r.base)
	metric(n/op.Seconds(), "tokens/s")
	if base > 0 {
		metric(n/base.Seconds(), "baseline-tokens/s")
		metric(median(r.ratios), "ratio-vs-writes")
	}
	metric(float64(r.cpu.Milliseconds())/n, "manager-cpu-ms/token")
	metric(float64(r.engineCPU.Milliseconds())/n, "engine-cpu-ms/token")
	msPerToken := func(ps []planeCPU) float64 {
		ms := make([]float64, len(ps))
		for i, p := range ps {
			ms[i] = float64(p.total().Milliseconds()) / n
		}
		return median(ms)
	}
	metric(msPerToken(r.opPlane), "apiserver-cpu-ms/token")
	if len(r.basePlane) > 0 {
		metric(msPerToken(r.basePlane), "baseline-apiserver-cpu-ms/token")
	}
	metric(float64(r.peak)/(1<<20), "manager-peak-MiB")
	b.Logf("%s: %d tokens (+%d unrelated 100 KiB Secrets), rounds in order: baseline %s, operator %s; load average %s",
		s.name, s.tokens, s.unrelated, seconds(r.base), seconds(r.op), r.load)
	if len(r.ratios) > 0 {
		b.Logf("%s: operator / bare client by round: %s (the median counts)", s.name, strings.Trim(fmt.Sprintf("%.3f", r.ratios), "[]"))
	}
	b.Logf("%s: control plane CPU per token (kube-apiserver + etcd), rounds in order: baseline %s, operator %s",
		s.name, planeMillis(r.basePlane, n), planeMillis(r.opPlane, n))
	b.Logf("%s: API calls per token during the operator run (the benchmark's create included):\n  %s", s.name, strings.Join(r.calls, "\n  "))
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

// schedule orders the operator rounds of sizes that have rounds[k] each (their indexes k), so
// that every size's rounds spread over the whole run: round i of n stands at (2i+1)/2n of it,
// the earlier size first on a tie. Both sizes then meet the machine's slow and fast spells
// alike, and t(10k)/t(1k) compares the control plane with itself rather than one half hour
// with the next (docs/design.md §8).
func schedule(rounds []int) []int {
	type slot struct{ num, den, size int } // at num/den of the run
	var slots []slot
	for k, n := range rounds {
		for i := range n {
			slots = append(slots, slot{2*i + 1, 2 * n, k})
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(a.num*b.den, b.num*a.den) })
	order := make([]int, len(slots))
	for i, s := range slots {
		order[i] = s.size
	}
	return order
}

// sizeRun is one size's cluster and what its rounds measured so far.
type sizeRun struct {
	b              *testing.B
	s              size
	c              *cluster
	r              macroResult
	profileSeconds int
	brackets       [][2]int // per operator round, the indexes in r.base of the baseline rounds just before and after it
}

// runMacro measures sizes in one run, each on a control plane of its own: a warm-up round of
// the bare client's writes (not measured) on each, then the operator rounds in schedule's
// order, each between two baseline rounds of its size with nothing between them (a baseline
// after one operator round is the one before the next of its size when no other size ran in
// between), each round from the same cluster (cluster.reset). The API calls, the manager's and
// the engine's CPU, its peak RSS and profiles are each size's first operator round's; the
// control plane's CPU and profiles every round's.
func runMacro(b *testing.B, sizes []size) []macroResult {
	noBaseline := os.Getenv("BENCH_NO_BASELINE") == "1"
	runs := make([]*sizeRun, len(sizes))
	rounds := make([]int, len(sizes))
	for i, s := range sizes {
		runs[i], rounds[i] = newSizeRun(b, s, noBaseline), s.rounds
	}
	for _, run := range runs {
		run.c.startManager()
	}
	var last *sizeRun // the size whose baseline round ran last
	for _, k := range schedule(rounds) {
		run := runs[k]
		if noBaseline {
			run.operatorRound()
			continue
		}
		if last != run {
			run.baselineRound()
		}
		before := len(run.r.base) - 1
		run.operatorRound()
		run.baselineRound()
		run.brackets, last = append(run.brackets, [2]int{before, len(run.r.base) - 1}), run
	}
	results := make([]macroResult, len(runs))
	for i, run := range runs {
		r := &run.r
		for j, op := range r.op[:len(run.brackets)] {
			bb := run.brackets[j]
			r.ratios = append(r.ratios, ((r.base[bb[0]]+r.base[bb[1]])/2).Seconds()/op.Seconds())
		}
		results[i] = *r
	}
	return results
}

// newSizeRun starts s's cluster, creates its unrelated Secrets and runs the warm-up round.
func newSizeRun(b *testing.B, s size, noBaseline bool) *sizeRun {
	run := &sizeRun{b: b, s: s, c: newCluster(b)}
	ctx := context.Background()
	if s.unrelated > 0 {
		data := map[string][]byte{"blob": make([]byte, 100<<10)}
		must(b, fanOut(s.unrelated, creators, func(i int) error {
			return run.c.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: numbered("unrelated-", i), Namespace: tokensNamespace}, Data: data})
		}))
	}
	run.r.load = loadAverage()
	// A control plane profile covers a whole round, and the next round waits for its end: a
	// round's CPU per function over its tokens is then comparable with another round's, which a
	// profile of the rounds' first minute is not (the operator's round creates its tokens
	// faster than it mints them, the baseline's at the pace it mints them).
	run.profileSeconds = s.tokens / 25 // without a warm-up to size it: 40 s for 1,000 tokens, ~3x the round
	if !noBaseline {
		// The first writes into a fresh API server were its cheapest: at 10,000 tokens, with the
		// rounds piling up, a first baseline round cost it 14.3 ms of CPU per token, the
		// operator's round after it 19.3 ms, the next baseline round 20.0 ms (kube-apiserver
		// profiles: allocation and GC per token doubled). Whatever of that a reset does not undo
		// (the server's heap, its caches) should not credit the first baseline round, so a
		// warm-up round of the baseline's writes, not measured, goes first.
		w := baseline(b, run.c, s.tokens, "w-")
		b.Logf("%s: warm-up: %d tokens of baseline writes in %.1f s", s.name, s.tokens, w.Seconds())
		run.profileSeconds = int(2 * w.Seconds())
		run.c.reset(baselineNamespace, "w-", s.tokens, false)
	}
	return run
}

// baselineRound runs the bare client's writes for the size's N tokens, named after the round.
func (run *sizeRun) baselineRound() {
	b, c, s, r := run.b, run.c, run.s, &run.r
	name := fmt.Sprintf("b%d-", len(r.base))
	p0 := c.planeCPU()
	profiled := c.startAPIServerProfile(s.name+"-"+name, run.profileSeconds)
	r.base = append(r.base, baseline(b, c, s.tokens, name))
	r.basePlane = append(r.basePlane, c.planeCPU().sub(p0))
	<-profiled
	c.reset(baselineNamespace, name, s.tokens, false)
}

// operatorRound creates the size's N DatabaseTokens and waits until the manager has made each
// Ready.
func (run *sizeRun) operatorRound() {
	b, c, s, r := run.b, run.c, run.s, &run.r
	ctx := context.Background()
	round := len(r.op)
	prefix := fmt.Sprintf("t%d-", round)
	ready := startTrackerFromNow(b, c, tokensNamespace, readyNamed(prefix))
	before, u0, e0, p0 := c.requestCounts(), usageOf(b, c.manager), usageOf(b, c.engine), c.planeCPU()
	profiled := c.startAPIServerProfile(s.name+"-"+prefix, run.profileSeconds)
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
	ready.logRestarts(b, fmt.Sprintf("%s operator round %d", s.name, round))
	after, u1, e1 := c.requestCounts(), usageOf(b, c.manager), usageOf(b, c.engine)
	r.opPlane = append(r.opPlane, c.planeCPU().sub(p0))
	if round == 0 {
		// The peak while the manager minted and held N tokens the first time.
		r.peak = u1.peak
		r.cpu, r.engineCPU = u1.cpu-u0.cpu, e1.cpu-e0.cpu
		r.calls = perToken(before, after, s.tokens, notPerToken)
	} else {
		// Whether a round that cost the control plane more per token than the first made
		// more calls (conflicts, retries) or the same calls at a higher price.
		b.Logf("%s operator round %d, API calls per token: %s", s.name, round, strings.Join(perToken(before, after, s.tokens, notPerToken), ", "))
	}
	logRelists(b, fmt.Sprintf("%s operator round %d", s.name, round), before, after)
	<-profiled
	<-managerProfiled
	b.Logf("%s: manager after operator round %d, holding %d tokens: %d MiB anonymous, %d MiB file-backed (the binary); peak so far %d MiB",
		s.name, round, s.tokens, u1.rssAnon>>20, u1.rssFile>>20, u1.peak>>20)
	if round == 0 {
		c.saveHeapProfile()
	}
	c.reset(tokensNamespace, prefix, s.tokens, true)
}

// numbered is the name of the i-th of the objects the benchmark names with prefix: a round's
// tokens and Secrets, which cluster.reset deletes by their round's prefix.
func numbered(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// replayedPrefix marks requestCounts' counts of events replayed to starting watches.
const replayedPrefix = "replayed "

// notPerToken: watches and the events replayed when they start are not per token.
func notPerToken(call string) bool {
	return strings.HasPrefix(call, "WATCH") || strings.HasPrefix(call, replayedPrefix)
}

// logRelists says how many LISTs the API server served during a round (perToken leaves out what
// is not per token), and how many events it replayed to watches as they started: a manager
// that lists again what it caches costs the API server a namespace, by a LIST or by a watch
// restarted from too far back.
func logRelists(b testing.TB, round string, before, after map[string]float64) {
	var lists []string
	for k, v := range after {
		if d := v - before[k]; d > 0 && (strings.HasPrefix(k, "LIST ") || strings.HasPrefix(k, replayedPrefix)) {
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
// a baseline of smaller objects would not be the ceiling for the operator's writes. For the same
// reason the writes after the create carry the operator's field manager: the API server keeps an
// entry of managedFields per manager, so a DatabaseToken the operator has minted holds one more
// (its creator's, the operator's metadata and status) than one a single client wrote all of.
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
	if err := k8s.Patch(ctx, obj, patch, operatorFieldOwner); err != nil {
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
	if err := k8s.Create(ctx, sec, operatorFieldOwner); err != nil {
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
	if err := k8s.Status().Patch(ctx, obj, patch, operatorFieldOwner); err != nil {
		return err
	}
	return k8s.Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name + ".minted", Namespace: baselineNamespace},
		EventTime:  metav1.NowMicro(), ReportingController: "token-operator", ReportingInstance: "bench",
		Action: "Mint", Reason: tokensv1.ReasonMinted, Type: corev1.EventTypeNormal,
		Note:      fmt.Sprintf("Minted token %q (revision 1) into Secret %q", tokenName, name),
		Regarding: corev1.ObjectReference{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken", Namespace: baselineNamespace, Name: name, UID: obj.UID, ResourceVersion: obj.ResourceVersion},
	}, operatorFieldOwner)
}

// operatorFieldOwner is the field manager the API server records for the manager's writes: the
// name its client's user agent starts with (rest.DefaultKubernetesUserAgent, the binary's name).
const operatorFieldOwner = client.FieldOwner("token-operator")

func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		rounds []int
		want   []int
	}{
		{[]int{5}, []int{0, 0, 0, 0, 0}},
		// make bench-full: 1,000-token rounds before, between and after the 10,000-token ones.
		{[]int{5, 3}, []int{0, 1, 0, 0, 1, 0, 1, 0}},
		{[]int{1, 1}, []int{0, 1}},
		{[]int{2, 0}, []int{0, 0}},
		{nil, []int{}},
	} {
		if got := schedule(tc.rounds); !slices.Equal(got, tc.want) {
			t.Errorf("schedule(%v) = %v, want %v", tc.rounds, got, tc.want)
		}
	}
}
