package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// DatabaseTokenReconciler reconciles DatabaseTokens through the shared token lifecycle.
type DatabaseTokenReconciler struct {
	*lifecycle.Reconciler[*tokensv1.DatabaseToken]
}

// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=databasetokens,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=databasetokens/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=databasetokens/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// DatabaseTokenKind tells the lifecycle how to read a DatabaseToken.
var DatabaseTokenKind = lifecycle.TokenKind[*tokensv1.DatabaseToken]{
	Name:        "DatabaseToken",
	New:         func() *tokensv1.DatabaseToken { return &tokensv1.DatabaseToken{} },
	Spec:        func(t *tokensv1.DatabaseToken) *tokensv1.TokenCommonSpec { return &t.Spec.TokenCommonSpec },
	Status:      func(t *tokensv1.DatabaseToken) *tokensv1.TokenStatus { return &t.Status.TokenStatus },
	Permissions: DatabasePermissions,
}

// DatabasePermissions maps each spec permission to an engine `db` permission, in spec order.
func DatabasePermissions(t *tokensv1.DatabaseToken) []engine.Permission {
	perms := make([]engine.Permission, 0, len(t.Spec.Permissions))
	for _, p := range t.Spec.Permissions {
		ep := engine.Permission{Type: engine.ResourceDatabase}
		for _, d := range p.Databases {
			ep.Names = append(ep.Names, string(d))
		}
		for _, a := range p.Actions {
			ep.Actions = append(ep.Actions, engine.Action(a))
		}
		perms = append(perms, ep)
	}
	return perms
}

// SetupWithManager registers the reconciler with mgr.
func (r *DatabaseTokenReconciler) SetupWithManager(mgr ctrl.Manager, deps TokenDeps) error {
	deps = deps.withDefaults()
	r.Reconciler = newLifecycle(mgr, deps, DatabaseTokenKind)
	return setupTokenController(mgr, deps, "databasetoken", r.Reconciler,
		func() client.ObjectList { return &tokensv1.DatabaseTokenList{} })
}
