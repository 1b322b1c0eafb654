package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=clustertokenengines,verbs=get;list;watch
// +kubebuilder:rbac:groups=tokens.tokenops.dev,resources=clustertokenengines/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// setupClusterTokenEngines registers the engineReconciler of ClusterTokenEngines with mgr.
func setupClusterTokenEngines(mgr ctrl.Manager, deps EngineDeps) error {
	return setupEngineController(mgr, "clustertokenengine", deps.withDefaults(),
		func() *tokensv1.ClusterTokenEngine { return &tokensv1.ClusterTokenEngine{} },
		func() client.ObjectList { return &tokensv1.ClusterTokenEngineList{} })
}
