package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=tokenengines,verbs=get;list;watch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=tokenengines/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// setupTokenEngines registers the engineReconciler of TokenEngines with mgr.
func setupTokenEngines(mgr ctrl.Manager, deps EngineDeps) error {
	return setupEngineController(mgr, "tokenengine", deps.withDefaults(),
		func() *tokensv1.TokenEngine { return &tokensv1.TokenEngine{} },
		func() client.ObjectList { return &tokensv1.TokenEngineList{} })
}
