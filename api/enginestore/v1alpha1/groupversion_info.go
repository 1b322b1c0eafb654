// Package v1alpha1 is the in-cluster token engine's own storage API (group store.tokenops.dev):
// one EngineToken per token when the engine runs with --store=kubernetes. Only the engine reads
// and writes these objects; users never edit them (docs/token-engine.md, "Stores").
// +kubebuilder:object:generate=true
// +groupName=store.tokenops.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of EngineToken.
	GroupVersion = schema.GroupVersion{Group: "store.tokenops.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &EngineToken{}, &EngineTokenList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
