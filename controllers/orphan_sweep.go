package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/metrics"
	"github.com/tokenops/token-operator/internal/orphans"
)

// Orphan sweep timing (docs/design.md §4, "Orphan sweep"; docs/rotation.md).
const (
	// DefaultOrphanSweepInterval is how often a Ready engine is swept for orphan tokens, ±10%.
	// One engine List per engine and a walk of the cached token resources: cheap at this rate.
	DefaultOrphanSweepInterval = 10 * time.Minute
	// DefaultOrphanGrace is how long a token must have been seen unaccounted (in two sweeps at
	// least this far apart) and, where the engine reports it, have existed before it is an orphan:
	// ten times the pending grace (30 s, lifecycle.DefaultPendingGrace), so a mint in flight or a
	// cache that is behind is never mistaken for one. An uncached re-check follows anyway.
	DefaultOrphanGrace = 5 * time.Minute
	// DefaultOrphanSweepTimeout bounds one sweep's engine calls (the List and the revocations).
	DefaultOrphanSweepTimeout = 2 * time.Minute
	// orphanNamesShown is how many token names an event lists; names are not secrets, but an
	// event message should stay short.
	orphanNamesShown = 5
)

// orphanSweepOf returns an engine resource's spec.orphanSweep; empty (an object written before
// the field existed, or read without defaulting) means Report.
func orphanSweepOf(obj tokensv1.GenericEngine) tokensv1.OrphanSweep {
	var mode tokensv1.OrphanSweep
	switch e := obj.(type) {
	case *tokensv1.ClusterTokenEngine:
		mode = e.Spec.OrphanSweep
	case *tokensv1.TokenEngine:
		mode = e.Spec.OrphanSweep
	}
	if mode == "" {
		return tokensv1.OrphanSweepReport
	}
	return mode
}

// sweepState is what one engine's sweeps remember between passes, in memory: a new manager or
// leader starts empty, which only delays a verdict (orphans.Decide).
type sweepState struct {
	// next is when the next sweep is due (zero: at once).
	next     time.Time
	suspects map[string]time.Time
	// reported is the orphan set the last OrphanTokens event named, so that an unchanged set is
	// not reported again every sweep.
	reported string
}

// sweepStates holds one sweepState per engine resource of one kind.
type sweepStates struct {
	mu     sync.Mutex
	states map[types.NamespacedName]*sweepState
}

func (s *sweepStates) get(key types.NamespacedName) *sweepState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[types.NamespacedName]*sweepState{}
	}
	st := s.states[key]
	if st == nil {
		st = &sweepState{}
		s.states[key] = st
	}
	return st
}

func (s *sweepStates) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, key)
}

// engineMetricName is the engine label of the metrics: the name, namespace/name for a TokenEngine.
func engineMetricName(key types.NamespacedName) string {
	return toolscache.NewObjectName(key.Namespace, key.Name).String()
}

// sweepOrphans runs the orphan sweep of a Ready engine when it is due and returns when the next
// one is due (0 when the sweep is Off). The workqueue never runs two reconciles of one engine at
// once, so an engine's sweepState is only ever used by one goroutine at a time.
func (r *engineReconciler[T]) sweepOrphans(ctx context.Context, obj T, eng engine.Engine) time.Duration {
	key := client.ObjectKeyFromObject(obj)
	kind := string(obj.EngineKind())
	mode := orphanSweepOf(obj)
	if mode == tokensv1.OrphanSweepOff {
		r.sweeps.forget(key)
		metrics.DefaultOrphanMetrics.Forget(kind, engineMetricName(key))
		return 0
	}
	st := r.sweeps.get(key)
	now := r.clock.Now()
	if now.Before(st.next) {
		return st.next.Sub(now)
	}
	// A failed sweep waits for the next interval too: no tight retry loop against an engine.
	next := jitter(r.deps.OrphanSweepInterval)
	st.next = now.Add(next)
	log := logf.FromContext(ctx)
	ctx, cancel := context.WithTimeout(ctx, r.deps.OrphanSweepTimeout)
	defer cancel()

	// The listing first, then the statuses: a listed token was recorded as pending before it was
	// created, so statuses read after the listing name every token minted by then.
	prefix := orphans.NamePrefix
	if ns := obj.GetNamespace(); ns != "" {
		prefix += ns + "." // a TokenEngine serves its own namespace only
	}
	listed, err := eng.List(ctx, prefix)
	if err != nil {
		log.Error(err, "Failed to list engine tokens for the orphan sweep", "prefix", prefix)
		return next
	}
	acc, err := r.accountedTokens(ctx, obj.GetNamespace())
	if err != nil {
		log.Error(err, "Failed to read token resources for the orphan sweep")
		return next
	}
	res := orphans.Decide(orphans.Input{
		Now: now, Grace: r.deps.OrphanGrace, Unaccounted: orphans.Unaccounted(listed, acc, now),
		Serves: r.servesNamespace(ctx, obj), Suspects: st.suspects,
	})
	st.suspects = res.Suspects
	found := r.confirmOrphans(ctx, res.Orphans, st)

	left, revoked := found, []string(nil)
	var revokeErr error
	if mode == tokensv1.OrphanSweepRevoke && len(found) > 0 {
		left = nil
		ids := make(map[string]string, len(listed)) // name → id: revoked by id, not a listing each (engine.Engine.Revoke)
		for _, t := range listed {
			ids[t.Name] = t.ID
		}
		for _, name := range found {
			if err := eng.Revoke(ctx, name, ids[name]); err != nil {
				left, revokeErr = append(left, name), err
				continue
			}
			revoked = append(revoked, name)
			delete(st.suspects, name)
		}
	}
	metrics.DefaultOrphanMetrics.Swept(kind, engineMetricName(key), len(left), len(revoked))
	if len(revoked) > 0 {
		log.Info("Revoked orphan engine tokens", "tokenNames", revoked)
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, tokensv1.ReasonOrphanTokensRevoked, "Revoke",
			"Revoked %d orphan engine tokens that no DatabaseToken or SystemToken accounted for (spec.orphanSweep: Revoke): %s",
			len(revoked), shortList(revoked))
	}
	r.reportOrphans(ctx, obj, st, left, mode, revokeErr)
	log.V(1).Info("Swept "+kind+" for orphan tokens", "listed", len(listed), "suspects", len(st.suspects), "orphans", len(left), "revoked", len(revoked))
	return next
}

// reportOrphans emits one OrphanTokens event when the set of orphans left in the engine changed.
func (r *engineReconciler[T]) reportOrphans(ctx context.Context, obj T, st *sweepState, left []string, mode tokensv1.OrphanSweep, revokeErr error) {
	set := strings.Join(left, " ")
	if set == st.reported {
		return
	}
	st.reported = set
	if len(left) == 0 {
		return
	}
	logf.FromContext(ctx).Info("Found orphan engine tokens", "tokenNames", left, "orphanSweep", mode)
	what := "revoke them in the engine, or set spec.orphanSweep: Revoke"
	if mode == tokensv1.OrphanSweepRevoke {
		what = fmt.Sprintf("revoking them failed and is retried at the next sweep: %v", revokeErr)
	}
	r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, tokensv1.ReasonOrphanTokens, "Sweep",
		"%d engine tokens carry this operator's name prefix but no DatabaseToken or SystemToken accounts for them: %s; %s (docs/rotation.md)",
		len(left), shortList(left), what)
}

// shortList names the first few of names and how many more there are.
func shortList(names []string) string {
	if len(names) <= orphanNamesShown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:orphanNamesShown], ", "), len(names)-orphanNamesShown)
}

// accountedTokens collects every engine-side name the cached DatabaseTokens and SystemTokens
// account for, in namespace (all when empty). Read-only, so the cache's objects are not copied.
func (r *engineReconciler[T]) accountedTokens(ctx context.Context, namespace string) (orphans.Accounted, error) {
	acc := orphans.Accounted{}
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	var dbts tokensv1.DatabaseTokenList
	if err := r.client.List(ctx, &dbts, opts...); err != nil {
		return nil, err
	}
	for i := range dbts.Items {
		acc.AddResource(&dbts.Items[i], &dbts.Items[i].Status.TokenStatus)
	}
	var sts tokensv1.SystemTokenList
	if err := r.client.List(ctx, &sts, opts...); err != nil {
		return nil, err
	}
	for i := range sts.Items {
		acc.AddResource(&sts.Items[i], &sts.Items[i].Status.TokenStatus)
	}
	return acc, nil
}

// servesNamespace says which namespaces' tokens this engine judges: those the manager watches
// (elsewhere its cache holds no token resources, so everything would look unaccounted) and that
// the engine serves: a TokenEngine its own, a ClusterTokenEngine those its allowedNamespaces
// permit (none without it). A namespace whose labels cannot be read is not judged.
func (r *engineReconciler[T]) servesNamespace(ctx context.Context, obj T) func(string) bool {
	watched := func(ns string) bool {
		return len(r.deps.WatchNamespaces) == 0 || slices.Contains(r.deps.WatchNamespaces, ns)
	}
	if obj.EngineKind() == tokensv1.TokenEngineKind {
		own := obj.GetNamespace()
		return func(ns string) bool { return ns == own && watched(ns) }
	}
	allowed := obj.GetAllowedNamespaces()
	return func(ns string) bool {
		switch {
		case !watched(ns) || allowed == nil:
			return false
		case allowed.Selector == nil:
			return engineref.PermitsByName(allowed.MatchNames, ns)
		}
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if err := r.client.Get(ctx, types.NamespacedName{Name: ns}, meta); err != nil {
			return false
		}
		ok, err := engineref.PermitsByLabels(allowed.Selector, meta.Labels)
		return err == nil && ok
	}
}

// confirmOrphans re-reads, uncached, what could still account for each orphan Decide found (its
// token resources and the Secrets of its namespace) and returns the names nothing accounts for.
// A name something accounts for starts over as a suspect; one that could not be checked stays a
// suspect and is decided at the next sweep.
func (r *engineReconciler[T]) confirmOrphans(ctx context.Context, found []orphans.Token, st *sweepState) []string {
	log := logf.FromContext(ctx)
	secretNames := map[string]map[string]bool{}
	var out []string
	for _, t := range found {
		ns := t.Parsed.Namespace
		if _, ok := secretNames[ns]; !ok {
			names, err := r.secretTokenNames(ctx, ns)
			if err != nil {
				log.Error(err, "Failed to read Secrets for the orphan sweep", "namespace", ns)
				continue
			}
			secretNames[ns] = names
		}
		fresh := orphans.Fresh{Accounted: orphans.Accounted{}, SecretTokenNames: secretNames[ns]}
		if err := r.freshStatuses(ctx, types.NamespacedName{Namespace: ns, Name: t.Parsed.Resource}, fresh.Accounted); err != nil {
			log.Error(err, "Failed to read a token resource for the orphan sweep", "tokenName", t.Name)
			continue
		}
		switch v := orphans.Confirm(t, fresh); v {
		case orphans.VerdictOrphan:
			out = append(out, t.Name)
		default:
			log.V(1).Info("Not an orphan after an uncached read", "tokenName", t.Name, "verdict", v)
			delete(st.suspects, t.Name)
		}
	}
	return out
}

// freshStatuses adds what the DatabaseToken and SystemToken named key account for, read uncached.
func (r *engineReconciler[T]) freshStatuses(ctx context.Context, key types.NamespacedName, acc orphans.Accounted) error {
	dbt := &tokensv1.DatabaseToken{}
	if err := r.apiReader.Get(ctx, key, dbt); err == nil {
		acc.AddResource(dbt, &dbt.Status.TokenStatus)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	sys := &tokensv1.SystemToken{}
	if err := r.apiReader.Get(ctx, key, sys); err == nil {
		acc.AddResource(sys, &sys.Status.TokenStatus)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// secretTokenNames lists the token-name annotations of every Secret in namespace, uncached and
// as metadata only: a Secret deletionPolicy Retain handed over has lost our labels (so it is not
// in the cache) but keeps the annotation.
func (r *engineReconciler[T]) secretTokenNames(ctx context.Context, namespace string) (map[string]bool, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.apiReader.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, s := range list.Items {
		if n := s.Annotations[tokensv1.TokenNameAnnotation]; n != "" {
			names[n] = true
		}
	}
	return names, nil
}
