//go:build linux

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/lifecycle"
	"github.com/tokenops/token-operator/internal/orphans"
)

// Rotating tokens: the settings. Every token's overlap is short, so that predecessors
// replaced by a permission change are revoked within the test.
const (
	rotatingExpiresAfter = "40s"
	rotatingRenewBefore  = "20s"
	overlap              = "10s"
	// revokeSlack is how late a predecessor's revocation may be (requeue, backoff, a manager
	// restarting) before it counts as overstaying its overlap.
	revokeSlack = 20 * time.Second
)

// fleet is the set of DatabaseTokens a chaos test creates, changes and deletes.
type fleet struct {
	c   *cluster
	rnd *rand.Rand

	mu      sync.Mutex
	live    map[types.NamespacedName]bool   // created and not deleted
	deleted map[types.NamespacedName]string // → engine name prefix
	changed map[types.NamespacedName]bool
	kept    map[types.NamespacedName]bool // never picked for deletion or a change (the handover probe)
	order   []types.NamespacedName
}

func newFleet(c *cluster, rnd *rand.Rand) *fleet {
	return &fleet{c: c, rnd: rnd, live: map[types.NamespacedName]bool{}, deleted: map[types.NamespacedName]string{}, changed: map[types.NamespacedName]bool{}, kept: map[types.NamespacedName]bool{}}
}

// database is the database token i asks for (v2 after a permission change).
func database(i int, changed bool) tokensv1.DatabaseName {
	if changed {
		return tokensv1.DatabaseName(fmt.Sprintf("db%03dv2", i))
	}
	return tokensv1.DatabaseName(fmt.Sprintf("db%03d", i))
}

func action(i int) tokensv1.Action {
	if i%2 == 0 {
		return tokensv1.ActionWrite
	}
	return tokensv1.ActionRead
}

// rotating: a third of the tokens, spread over the namespaces (the namespace is i%3).
func rotating(i int) bool { return (i/3)%3 == 0 }

// create creates tokens 0..n-1 spread over the namespaces; a third rotate.
func (f *fleet) create(n int) {
	for i := range n {
		f.createOne(i)
	}
}

// createOne creates tok-<i> in namespace i%3 (rotating when rotating(i)) and returns its key.
func (f *fleet) createOne(i int) types.NamespacedName {
	t := f.c.t
	t.Helper()
	key := types.NamespacedName{Namespace: namespaces[i%len(namespaces)], Name: fmt.Sprintf("tok-%03d", i)}
	ov := tokensv1.Duration(overlap)
	tok := &tokensv1.DatabaseToken{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec: tokensv1.DatabaseTokenSpec{
			Permissions: []tokensv1.DatabasePermission{{Databases: []tokensv1.DatabaseName{database(i, false)}, Actions: []tokensv1.Action{action(i)}}},
		},
	}
	tok.Spec.Rotation = &tokensv1.Rotation{Overlap: &ov}
	if rotating(i) {
		exp, before := tokensv1.Duration(rotatingExpiresAfter), tokensv1.Duration(rotatingRenewBefore)
		tok.Spec.ExpiresAfter = &exp
		tok.Spec.Rotation.RenewBefore = &before
	}
	must(t, f.c.k8s.Create(context.Background(), tok))
	f.mu.Lock()
	f.live[key] = true
	f.order = append(f.order, key)
	f.mu.Unlock()
	return key
}

// keep takes key out of the churn: the handover test watches it, and the churn deleting it
// would make the new leader's first reconcile look as if it never came.
func (f *fleet) keep(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kept[key] = true
}

// index is the i of tok-<i>.
func index(key types.NamespacedName) int {
	var i int
	_, _ = fmt.Sscanf(key.Name, "tok-%d", &i)
	return i
}

// pick returns a random live token that was neither deleted nor changed, or false.
func (f *fleet) pick() (types.NamespacedName, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range 1000 {
		key := f.order[f.rnd.IntN(len(f.order))]
		if f.live[key] && !f.changed[key] && !f.kept[key] {
			return key, true
		}
	}
	return types.NamespacedName{}, false
}

// deleteOne deletes a random token.
func (f *fleet) deleteOne() {
	f.actOnOne("deleting", func(ctx context.Context, key types.NamespacedName, tok *tokensv1.DatabaseToken) error {
		f.mu.Lock()
		f.deleted[key] = lifecycle.TokenNamePrefix(key.Namespace, key.Name, tok.UID)
		f.mu.Unlock()
		return f.c.k8s.Delete(ctx, tok)
	}, func(key types.NamespacedName) { delete(f.live, key) })
}

// changeOne moves a random token to another database (a successor is minted, the predecessor
// revoked after the overlap).
func (f *fleet) changeOne() {
	f.actOnOne("changing", func(ctx context.Context, key types.NamespacedName, tok *tokensv1.DatabaseToken) error {
		tok.Spec.Permissions[0].Databases = []tokensv1.DatabaseName{database(index(key), true)}
		return f.c.k8s.Update(ctx, tok)
	}, func(key types.NamespacedName) { f.changed[key] = true })
}

// actOnOne picks a random token, runs act on its current object (retrying while the API server
// is away) and then records the act with done under f.mu; doing names the act in the error.
func (f *fleet) actOnOne(doing string, act func(context.Context, types.NamespacedName, *tokensv1.DatabaseToken) error, done func(types.NamespacedName)) {
	key, ok := f.pick()
	if !ok {
		return
	}
	ctx := context.Background()
	err := retry(90*time.Second, func() error {
		var tok tokensv1.DatabaseToken
		if err := f.c.k8s.Get(ctx, key, &tok); err != nil {
			return err
		}
		return act(ctx, key, &tok)
	})
	if err != nil {
		f.c.t.Errorf("%s %s: %v", doing, key, err)
	}
	f.mu.Lock()
	done(key)
	f.mu.Unlock()
}

// state copies the live and changed sets.
func (f *fleet) state() (live, changed map[types.NamespacedName]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	live, changed = map[types.NamespacedName]bool{}, map[types.NamespacedName]bool{}
	for k, v := range f.live {
		live[k] = v
	}
	for k, v := range f.changed {
		changed[k] = v
	}
	return live, changed
}

// countSecrets counts the Secrets the operator wrote so far.
func (f *fleet) countSecrets() int {
	n := 0
	for _, ns := range namespaces {
		var secs corev1.SecretList
		if err := f.c.k8s.List(context.Background(), &secs, client.InNamespace(ns), client.MatchingLabels{tokensv1.ManagedByLabel: tokensv1.ManagedByValue}); err == nil {
			n += len(secs.Items)
		}
	}
	return n
}

// listTokens lists the DatabaseTokens of every chaos namespace.
func (f *fleet) listTokens() ([]tokensv1.DatabaseToken, error) {
	var all []tokensv1.DatabaseToken
	for _, ns := range namespaces {
		var l tokensv1.DatabaseTokenList
		if err := f.c.k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		all = append(all, l.Items...)
	}
	return all, nil
}

func isTrue(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

// settled: every live token Ready with no pending mint, every deleted one gone.
func (f *fleet) settled() (bool, string) {
	toks, err := f.listTokens()
	if err != nil {
		return false, err.Error()
	}
	live, _ := f.state()
	seen := map[types.NamespacedName]bool{}
	var waiting []string
	for _, d := range toks {
		key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
		seen[key] = true
		switch {
		case !live[key]:
			waiting = append(waiting, key.String()+" (deleted, still there)")
		case d.Status.Current == nil || !isTrue(d.Status.Conditions, tokensv1.ConditionReady):
			waiting = append(waiting, key.String()+" (not Ready)")
		case d.Status.Current.ExpiresAt != nil && !d.Status.Current.ExpiresAt.After(time.Now()):
			// Status says Ready but its token expired: the pass that carries out the expiry
			// (and mints the successor) has not run yet.
			waiting = append(waiting, key.String()+" (current expired)")
		case d.Status.Pending != nil && d.Status.Pending.StartedAt != nil && time.Since(d.Status.Pending.StartedAt.Time) > 5*time.Second:
			waiting = append(waiting, key.String()+" (pending since "+d.Status.Pending.StartedAt.Format(time.RFC3339)+")")
		}
	}
	for key := range live {
		if !seen[key] {
			waiting = append(waiting, key.String()+" (missing)")
		}
	}
	sort.Strings(waiting)
	if len(waiting) > 5 {
		return false, fmt.Sprintf("%d tokens, e.g. %s", len(waiting), strings.Join(waiting[:5], ", "))
	}
	return len(waiting) == 0, strings.Join(waiting, ", ")
}

// waitSettled waits up to d for settled.
func (f *fleet) waitSettled(d time.Duration) {
	t := f.c.t
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := f.settled()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after %v: %s", d, why)
		}
		time.Sleep(time.Second)
	}
}

// figures are what the invariant check found.
type figures struct {
	live, rotating, engineTokens            int
	leaked, leftForDeleted, overdue         int
	notReady, rotatingExpired, brokenSecret int
	recoveredGaps                           int
	problems                                []string
}

func (g figures) String() string {
	return fmt.Sprintf("%d live tokens (%d rotating), %d live engine tokens with our prefix: %d leaked, %d left for deleted resources, "+
		"%d predecessors past their overlap, %d not Ready, %d rotating tokens Expired, %d broken Secrets; %d rotating tokens recovered from a gap",
		g.live, g.rotating, g.engineTokens, g.leaked, g.leftForDeleted, g.overdue, g.notReady, g.rotatingExpired, g.brokenSecret, g.recoveredGaps)
}

func (g figures) clean() bool {
	return g.leaked == 0 && g.leftForDeleted == 0 && g.overdue == 0 && g.notReady == 0 && g.rotatingExpired == 0 && g.brokenSecret == 0
}

// snapshot compares status with the engine's listing once: status is read before and after
// the listing, so a token minted or revoked while we look is accounted for by one of them.
func (f *fleet) snapshot(ctx context.Context) (figures, []tokensv1.DatabaseToken, error) {
	var g figures
	before, err := f.listTokens()
	if err != nil {
		return g, nil, err
	}
	listed, err := f.c.eng.List(ctx, orphans.NamePrefix)
	if err != nil {
		return g, nil, err
	}
	now := time.Now()
	after, err := f.listTokens()
	if err != nil {
		return g, nil, err
	}
	// The same accounting as the operator's orphan sweep (internal/orphans), so a leak here is
	// what the sweep would report.
	accounted := orphans.Accounted{}
	for _, d := range append(before, after...) {
		accounted.Add(&d.Status.TokenStatus)
	}
	leaked := map[string]bool{}
	for _, o := range orphans.Unaccounted(listed, accounted, now) {
		leaked[o.Name] = true
	}
	f.mu.Lock()
	deletedPrefixes := make([]string, 0, len(f.deleted))
	for _, p := range f.deleted {
		deletedPrefixes = append(deletedPrefixes, p)
	}
	f.mu.Unlock()
	for _, ti := range listed {
		if orphans.Expired(ti, now) {
			continue // the engine refuses it already
		}
		g.engineTokens++
		forDeleted := false
		for _, p := range deletedPrefixes {
			if strings.HasPrefix(ti.Name, p) {
				forDeleted = true
			}
		}
		switch {
		case forDeleted:
			g.leftForDeleted++
			g.problems = append(g.problems, "engine token of a deleted resource: "+ti.Name)
		case leaked[ti.Name]:
			g.leaked++
			g.problems = append(g.problems, "leaked engine token: "+ti.Name)
		case !accounted.Has(ti.Name): // our prefix but not our name form: the sweep would not see it
			g.leaked++
			g.problems = append(g.problems, "engine token with our prefix but not our name form: "+ti.Name)
		}
	}
	live, _ := f.state()
	for _, d := range after {
		key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
		if !live[key] {
			g.problems = append(g.problems, "deleted resource still present: "+key.String())
			g.leftForDeleted++
			continue
		}
		g.live++
		rot := rotating(index(key))
		if rot {
			g.rotating++
			if c := meta.FindStatusCondition(d.Status.Conditions, tokensv1.ConditionExpired); c != nil && c.Reason == tokensv1.ReasonRenewedAfterExpiry {
				g.recoveredGaps++
			}
		}
		if isTrue(d.Status.Conditions, tokensv1.ConditionExpired) {
			if rot {
				g.rotatingExpired++
			}
			g.problems = append(g.problems, key.String()+": Expired")
		}
		if d.Status.Current == nil || !isTrue(d.Status.Conditions, tokensv1.ConditionReady) {
			g.notReady++
			g.problems = append(g.problems, fmt.Sprintf("%s: not Ready: %v", key, d.Status.Conditions))
		}
		for _, p := range d.Status.Previous {
			if p.RevokeAt != nil && now.Sub(p.RevokeAt.Time) > revokeSlack {
				g.overdue++
				g.problems = append(g.problems, fmt.Sprintf("%s: predecessor %s still listed %v after its revokeAt", key, p.TokenName, now.Sub(p.RevokeAt.Time).Round(time.Second)))
			}
		}
	}
	return g, after, nil
}

// check asserts the invariants from the outside, retrying the status/engine comparison a few
// times (rotating tokens move while we look), then authorizes every Secret's token at the engine.
func (f *fleet) check() figures {
	t := f.c.t
	t.Helper()
	ctx := context.Background()
	var g figures
	var toks []tokensv1.DatabaseToken
	var err error
	for attempt := 1; ; attempt++ {
		g, toks, err = f.snapshot(ctx)
		if err == nil && g.clean() {
			break
		}
		if attempt == 8 {
			if err != nil {
				t.Fatalf("comparing status with the engine: %v", err)
			}
			break
		}
		time.Sleep(3 * time.Second)
	}
	live, changed := f.state()
	for _, d := range toks {
		key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
		if !live[key] {
			continue
		}
		i := index(key)
		db := string(database(i, changed[key]))
		code := 0
		for range 3 { // a rotating token's Secret may be swapped between read and request
			code = f.authorizeSecret(ctx, key, d.Status.SecretName, db, string(action(i)))
			if code == http.StatusNoContent {
				break
			}
			time.Sleep(time.Second)
		}
		if code != http.StatusNoContent {
			g.brokenSecret++
			g.problems = append(g.problems, fmt.Sprintf("%s: the Secret's token gets %d for %s/%s", key, code, db, action(i)))
		}
	}
	return g
}

// authorizeSecret reads the token's Secret and asks the engine whether its token may do action
// on db; it returns the HTTP status (0 when the Secret cannot be read).
func (f *fleet) authorizeSecret(ctx context.Context, key types.NamespacedName, secretName, db, act string) int {
	if secretName == "" {
		secretName = key.Name
	}
	var sec corev1.Secret
	if err := f.c.k8s.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: secretName}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return 0
		}
		return -1
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v3/authorize?db=%s&action=%s", f.c.engineURL, db, act), nil)
	req.Header.Set("Authorization", "Bearer "+string(sec.Data["token"]))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return -1
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// report logs the figures and fails the test, with the manager's log lines about the tokens
// concerned, when an invariant does not hold.
func (f *fleet) report(g figures) {
	t := f.c.t
	t.Helper()
	t.Logf("figures: %s", g)
	if g.clean() {
		return
	}
	sort.Strings(g.problems)
	shown := g.problems
	if len(shown) > 30 {
		shown = shown[:30]
	}
	var names []string
	for _, p := range shown {
		if i := strings.Index(p, "k8s."); i >= 0 {
			names = append(names, strings.Fields(p[i:])[0])
		} else if i := strings.Index(p, ":"); i > 0 {
			if parts := strings.SplitN(p[:i], "/", 2); len(parts) == 2 {
				names = append(names, parts[1])
			}
		}
	}
	t.Errorf("invariants violated (%d problems):\n%s\nmanager log lines about them:\n%s",
		len(g.problems), strings.Join(shown, "\n"), strings.Join(f.c.managerLogLines(names, 80), "\n"))
}
