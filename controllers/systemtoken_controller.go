package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// SystemTokenReconciler reconciles SystemTokens through the shared token lifecycle.
type SystemTokenReconciler struct {
	*lifecycle.Reconciler[*tokensv1.SystemToken]
}

// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=systemtokens,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=systemtokens/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=systemtokens/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// SystemTokenKind tells the lifecycle how to read a SystemToken; it needs an engine with system tokens.
var SystemTokenKind = lifecycle.TokenKind[*tokensv1.SystemToken]{
	Name:         "SystemToken",
	New:          func() *tokensv1.SystemToken { return &tokensv1.SystemToken{} },
	Spec:         func(t *tokensv1.SystemToken) *tokensv1.TokenCommonSpec { return &t.Spec.TokenCommonSpec },
	Status:       func(t *tokensv1.SystemToken) *tokensv1.TokenStatus { return &t.Status.TokenStatus },
	Permissions:  SystemPermissions,
	SystemTokens: true,
}

// SystemPermissions is one read-only `system` permission over the spec's resources.
func SystemPermissions(t *tokensv1.SystemToken) []engine.Permission {
	p := engine.Permission{Type: engine.ResourceSystem, Actions: []engine.Action{engine.ActionRead}}
	for _, r := range t.Spec.Resources {
		p.Names = append(p.Names, string(r))
	}
	return []engine.Permission{p}
}

// SetupWithManager registers the reconciler with mgr.
func (r *SystemTokenReconciler) SetupWithManager(mgr ctrl.Manager, deps TokenDeps) error {
	deps = deps.withDefaults()
	r.Reconciler = newLifecycle(mgr, deps, SystemTokenKind)
	return setupTokenController(mgr, deps, "systemtoken", r.Reconciler,
		func() client.ObjectList { return &tokensv1.SystemTokenList{} })
}
