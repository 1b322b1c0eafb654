package controllers

import (
	"context"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/metrics"
)

// credentialsSecretIndex indexes engine resources by "namespace/name" of their credentials
// Secret, so that a Secret event finds its engines without a scan.
const credentialsSecretIndex = "tokens.tokenops.dev/credentials-secret"

// engineReconciler checks one kind of engine resource; ClusterTokenEngine and TokenEngine share it.
//
// A check builds (or reuses) the client from the spec and credentials Secret, calls Check, and
// writes Ready, EngineReachable, type, url and observedGeneration only when they change. Checks
// run on spec and annotation changes, on events of a credentials Secret in the manager's cache
// (those carrying the managed-by label), and every CheckInterval (±10%) while Ready or
// RetryInterval while not. Credentials Secrets are not cached, so an unlabelled Secret's change
// is seen at the next periodic check. After a check that finds the engine Ready, the orphan sweep
// runs when it is due (orphan_sweep.go).
type engineReconciler[T tokensv1.GenericEngine] struct {
	client client.Client
	// apiReader reads uncached: the orphan sweep's re-check before it reports or revokes.
	apiReader client.Reader
	clients   *enginefactory.Cache
	recorder  events.EventRecorder
	clock     clock.PassiveClock
	newObj    func() T
	newList   func() client.ObjectList
	deps      EngineDeps
	sweeps    sweepStates
}

func (r *engineReconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	obj := r.newObj()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.clients.Forget(enginefactory.Key{Kind: obj.EngineKind(), Namespace: req.Namespace, Name: req.Name})
			r.sweeps.forget(req.NamespacedName)
			metrics.DefaultOrphanMetrics.Forget(string(obj.EngineKind()), engineMetricName(req.NamespacedName))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := logf.FromContext(ctx)
	before := obj.DeepCopyObject().(T)
	desc := enginefactory.Describe(obj, r.deps.ManagerNamespace)

	built, buildErr := r.clients.Refresh(ctx, obj)
	if buildErr != nil && engine.ReasonOf(buildErr) == "" {
		// Reading the Secret failed (API server trouble): retry with backoff, status untouched.
		return ctrl.Result{}, buildErr
	}
	var checkErr error
	if buildErr == nil {
		checkCtx, cancel := context.WithTimeout(ctx, r.deps.CheckTimeout)
		checkErr = built.Engine.Check(checkCtx)
		cancel()
	}
	outcome := decideOutcome(desc, buildErr, checkErr, r.deps.RetryInterval)
	outcome.message += servesNoNamespaceNote(obj)
	next := jitter(r.deps.CheckInterval)
	if outcome.ready != metav1.ConditionTrue {
		next = jitter(r.deps.RetryInterval)
	}

	status := obj.GetEngineStatus()
	if !applyOutcome(status, obj.GetGeneration(), desc, outcome, r.clock.Now()) {
		log.V(1).Info("Checked "+string(obj.EngineKind())+", status unchanged", "ready", outcome.ready, "reason", outcome.reason)
	} else {
		if err := r.client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, err
		}
		if readyTransition(before.GetEngineStatus(), status) {
			log.Info("Checked "+string(obj.EngineKind())+", readiness changed", "ready", outcome.ready, "reason", outcome.reason)
			eventType := corev1.EventTypeNormal
			if outcome.ready != metav1.ConditionTrue {
				eventType = corev1.EventTypeWarning
			}
			r.recorder.Eventf(obj, nil, eventType, outcome.reason, "Check", "%s", outcome.message)
		}
	}
	if outcome.ready == metav1.ConditionTrue && built != nil {
		if sweep := r.sweepOrphans(ctx, obj, built.Engine); sweep > 0 && sweep < next {
			next = sweep
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// jitter spreads d by ±10% so that engines created together are not checked in lockstep.
func jitter(d time.Duration) time.Duration {
	spread := int64(d / 5)
	if spread <= 0 {
		return d
	}
	return d - d/10 + time.Duration(rand.Int64N(spread))
}

// setupEngineController indexes the kind by credentials Secret and registers its controller.
func setupEngineController[T tokensv1.GenericEngine](mgr ctrl.Manager, name string, deps EngineDeps, newObj func() T, newList func() client.ObjectList) error {
	ctx := context.Background()
	err := mgr.GetFieldIndexer().IndexField(ctx, newObj(), credentialsSecretIndex, func(o client.Object) []string {
		d := enginefactory.Describe(o.(T), deps.ManagerNamespace)
		if d.Secret.Name == "" {
			return nil
		}
		return []string{d.Secret.String()}
	})
	if err != nil {
		return err
	}
	r := &engineReconciler[T]{
		client: mgr.GetClient(), apiReader: mgr.GetAPIReader(), clients: deps.Clients, recorder: deps.recorder,
		clock: deps.Clock, newObj: newObj, newList: newList, deps: deps,
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		// Our own status writes change neither generation nor annotations, so they do not loop;
		// an annotation change is the way to force a re-check.
		For(newObj(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.enginesForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: deps.MaxConcurrentReconciles}).
		Complete(r)
}

// enginesForSecret maps a cached (labelled) Secret to the engines whose credentials it holds.
func (r *engineReconciler[T]) enginesForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := r.newList()
	key := o.GetNamespace() + "/" + o.GetName()
	if err := r.client.List(ctx, list, client.MatchingFields{credentialsSecretIndex: key}); err != nil {
		logf.FromContext(ctx).Error(err, "Failed to list engines for Secret", "secret", key)
		return nil
	}
	return requestsFor(list, nil)
}

// requestsFor appends a reconcile request for every object of list to reqs.
func requestsFor(list client.ObjectList, reqs []reconcile.Request) []reconcile.Request {
	_ = meta.EachListItem(list, func(item runtime.Object) error { // our lists hold only objects: never fails
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(item.(client.Object))})
		return nil
	})
	return reqs
}
