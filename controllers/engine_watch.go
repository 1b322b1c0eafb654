package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// EngineRefIndex is a field index on both token kinds holding the engine a token names:
// "ClusterTokenEngine/<name>", "TokenEngine/<name>", or DefaultEngineRef when spec.engineRef is
// omitted. An engine change then re-reconciles exactly the tokens that use it.
const EngineRefIndex = "tokens.tokenops.dev/engine-ref"

// DefaultEngineRef is the EngineRefIndex value of tokens that use the default ClusterTokenEngine.
const DefaultEngineRef = "default"

// engineRefKey is the EngineRefIndex value for an engine of kind and name.
func engineRefKey(kind tokensv1.EngineKind, name string) string { return string(kind) + "/" + name }

// indexEngineRef registers EngineRefIndex for a token kind.
func indexEngineRef[T client.Object](mgr ctrl.Manager, kind lifecycle.TokenKind[T]) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), kind.New(), EngineRefIndex, func(o client.Object) []string {
		ref := kind.Spec(o.(T)).EngineRef
		if ref == nil {
			return []string{DefaultEngineRef}
		}
		k := ref.Kind
		if k == "" {
			k = tokensv1.ClusterTokenEngineKind
		}
		return []string{engineRefKey(k, ref.Name)}
	})
}

// watchEngines makes engine changes re-reconcile the tokens that use the engine, so that a policy
// or allowedNamespaces change is applied to existing tokens at once (a token no longer permitted
// is revoked) and a token waiting for its engine's re-check goes on when it is done. The fan-out
// is bounded: only spec changes, the default annotation and a finished re-check (status.
// observedGeneration) enqueue, never the periodic checks that change nothing.
func watchEngines(b *builder.TypedBuilder[reconcile.Request], mgr ctrl.Manager, newList func() client.ObjectList) *builder.TypedBuilder[reconcile.Request] {
	enqueue := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		eng, ok := o.(tokensv1.GenericEngine)
		if !ok {
			return nil
		}
		keys := []string{engineRefKey(eng.EngineKind(), eng.GetName())}
		if eng.EngineKind() == tokensv1.ClusterTokenEngineKind && eng.GetAnnotations()[tokensv1.DefaultEngineAnnotation] == "true" {
			keys = append(keys, DefaultEngineRef)
		}
		var reqs []reconcile.Request
		for _, key := range keys {
			list := newList()
			opts := []client.ListOption{client.MatchingFields{EngineRefIndex: key}}
			if ns := eng.GetNamespace(); ns != "" {
				opts = append(opts, client.InNamespace(ns)) // a TokenEngine serves only its namespace
			}
			if err := mgr.GetClient().List(ctx, list, opts...); err != nil {
				logf.FromContext(ctx).Error(err, "Failed to list the tokens of an engine", "engine", eng.GetName())
				continue
			}
			reqs = requestsFor(list, reqs)
		}
		return reqs
	})
	changed := builder.WithPredicates(predicate.Funcs{UpdateFunc: engineChanged})
	return b.
		Watches(&tokensv1.ClusterTokenEngine{}, enqueue, changed).
		Watches(&tokensv1.TokenEngine{}, enqueue, changed)
}

// engineChanged is true for updates a token's resolution depends on.
func engineChanged(e event.UpdateEvent) bool {
	oldEng, ok1 := e.ObjectOld.(tokensv1.GenericEngine)
	newEng, ok2 := e.ObjectNew.(tokensv1.GenericEngine)
	if !ok1 || !ok2 {
		return false
	}
	return oldEng.GetGeneration() != newEng.GetGeneration() ||
		oldEng.GetAnnotations()[tokensv1.DefaultEngineAnnotation] != newEng.GetAnnotations()[tokensv1.DefaultEngineAnnotation] ||
		oldEng.GetEngineStatus().ObservedGeneration != newEng.GetEngineStatus().ObservedGeneration
}
