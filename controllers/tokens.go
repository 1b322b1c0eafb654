// Package controllers holds one reconciler per kind. The token lifecycle the two token
// reconcilers share lives in internal/lifecycle; here they only build permissions.
package controllers

import (
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/defaults"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// DefaultMaxConcurrentReconciles is the token reconcilers' worker count when TokenDeps leaves it zero.
const DefaultMaxConcurrentReconciles = 16

// TokenDeps is what the token reconcilers need from the manager command.
type TokenDeps struct {
	// Resolver finds a token's engine (the real engineref resolver, or engineref.Static in tests).
	Resolver engineref.Resolver
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// MaxConcurrentReconciles per kind; zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// PendingGrace overrides lifecycle.DefaultPendingGrace when positive.
	PendingGrace time.Duration
	// LeaderElection must be true when the manager elects a leader (its LeaderElection option):
	// a pending mint an earlier leader recorded is then abandoned as soon as this manager leads,
	// instead of after PendingGrace (lifecycle.Input.LeaderSince).
	LeaderElection bool
	// StepHook is for tests that simulate crashes between protocol steps; nil in production.
	StepHook lifecycle.StepHook
	// VerifyInterval overrides lifecycle.DefaultVerifyInterval when positive.
	VerifyInterval time.Duration

	leaderSince func() time.Time     // set by setupTokenReconcilers with LeaderElection
	recorder    events.EventRecorder // set by Setup: the one event writer
}

func (d TokenDeps) withDefaults() TokenDeps {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	d.MaxConcurrentReconciles = defaults.Positive(d.MaxConcurrentReconciles, DefaultMaxConcurrentReconciles)
	return d
}

// Rollout restarts patch the pod template of the workloads a token names; nothing else is read.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=patch

// setupTokenReconcilers registers the DatabaseToken and SystemToken reconcilers with mgr
// (through Setup). The manager's cache must hold only Secrets labelled app.kubernetes.io/managed-by=token-operator
// (the reconcilers read other Secrets uncached, and only to refuse to overwrite them).
func setupTokenReconcilers(mgr ctrl.Manager, deps TokenDeps) error {
	if deps.LeaderElection {
		term := &leaderTerm{clock: deps.withDefaults().Clock}
		if err := mgr.Add(term); err != nil {
			return err
		}
		deps.leaderSince = term.Since
	}
	if err := (&DatabaseTokenReconciler{}).SetupWithManager(mgr, deps); err != nil {
		return err
	}
	return (&SystemTokenReconciler{}).SetupWithManager(mgr, deps)
}

// newLifecycle fills the parts of a lifecycle.Reconciler every token kind shares.
func newLifecycle[T client.Object](mgr ctrl.Manager, deps TokenDeps, kind lifecycle.TokenKind[T]) *lifecycle.Reconciler[T] {
	return &lifecycle.Reconciler[T]{
		Client:         mgr.GetClient(),
		APIReader:      mgr.GetAPIReader(),
		Recorder:       deps.recorder,
		Resolver:       deps.Resolver,
		Clock:          deps.Clock,
		Kind:           kind,
		PendingGrace:   deps.PendingGrace,
		LeaderSince:    deps.leaderSince,
		StepHook:       deps.StepHook,
		VerifyInterval: deps.VerifyInterval,
	}
}

// setupTokenController watches a token kind, the Secrets it owns and the engines tokens use
// (see watchEngines; newList makes a list of the kind). Reconciles follow spec and metadata
// changes (deletion, the skip-revocation annotation), not our own status writes.
func setupTokenController[T client.Object](mgr ctrl.Manager, deps TokenDeps, name string, r *lifecycle.Reconciler[T], newList func() client.ObjectList) error {
	if err := indexEngineRef(mgr, r.Kind); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, userAnnotationChanged()))).
		Owns(&corev1.Secret{})
	return watchEngines(b, mgr, newList).
		WithOptions(controller.Options{MaxConcurrentReconciles: deps.MaxConcurrentReconciles}).
		Complete(r)
}

// userAnnotationChanged passes updates that change an annotation other than the first mint's
// intent (tokensv1.PendingMintAnnotation): that one is our own write in the pass that goes on to
// mint, and a reconcile for it would only find a stale view (docs/design.md §3, step 2).
func userAnnotationChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		return !maps.Equal(withoutKeys(e.ObjectOld.GetAnnotations(), tokensv1.PendingMintAnnotation),
			withoutKeys(e.ObjectNew.GetAnnotations(), tokensv1.PendingMintAnnotation))
	}}
}
