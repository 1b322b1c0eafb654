package controllers

import (
	"context"
	"errors"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/eventwriter"
)

// EventReporter is the reporting controller of the operator's events.
const EventReporter = "token-operator"

// Setup is the one place the reconcilers are wired; the manager command and the tests call it.
// The engine reconcilers and the token reconcilers' resolver share one engine client cache: an
// engine check refreshes the client the tokens use (docs/design.md, the path of a reconcile).
//
// engines nil leaves out the engine reconcilers (tests of the token lifecycle over
// engineref.Static); tokens nil leaves out the token reconcilers. Token reconcilers without a
// resolver get the engineref.CachedResolver resolver over the shared cache, which needs the engine
// reconcilers. The resolver in use is returned. Setup refuses what would fail later, quietly:
// no manager, engines without a manager namespace (where a ClusterTokenEngine's Secret
// reference points by default), tokens with no way to resolve an engine.
func Setup(ctx context.Context, mgr ctrl.Manager, engines *EngineDeps, tokens *TokenDeps) (engineref.Resolver, error) {
	if mgr == nil {
		return nil, errors.New("controllers.Setup: no manager")
	}
	if engines == nil && tokens == nil {
		return nil, errors.New("controllers.Setup: neither engine nor token reconcilers asked for")
	}
	// One event writer for all reconcilers (internal/eventwriter: no series cache).
	rec := eventwriter.New(mgr.GetClient(), mgr.GetScheme(), EventReporter, mgr.GetLogger().WithName("events"))
	if err := mgr.Add(rec); err != nil {
		return nil, err
	}
	var resolver engineref.Resolver
	if engines != nil {
		deps := *engines
		deps.recorder = rec
		if deps.ManagerNamespace == "" {
			return nil, errors.New("controllers.Setup: EngineDeps.ManagerNamespace is empty (the namespace ClusterTokenEngine Secret references default to)")
		}
		if deps.Clients == nil {
			deps.Clients = enginefactory.NewCache(&enginefactory.Factory{Reader: mgr.GetAPIReader(), ManagerNamespace: deps.ManagerNamespace})
		}
		if err := engineref.IndexDefaultEngines(ctx, mgr.GetFieldIndexer()); err != nil {
			return nil, err
		}
		if err := setupEngineReconcilers(mgr, deps); err != nil {
			return nil, err
		}
		resolver = &engineref.CachedResolver{Reader: mgr.GetClient(), Clients: deps.Clients}
	}
	if tokens == nil {
		return resolver, nil
	}
	deps := *tokens
	deps.recorder = rec
	if deps.Resolver == nil {
		if resolver == nil {
			return nil, errors.New("controllers.Setup: token reconcilers need a Resolver or the engine reconcilers")
		}
		deps.Resolver = resolver
	}
	return deps.Resolver, setupTokenReconcilers(mgr, deps)
}
