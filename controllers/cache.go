package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// CacheOptions is the manager cache the controllers are written for (docs/design.md §4, §8): Secrets
// only when they carry our managed-by label (a cluster's Secrets can outweigh everything else;
// the others are read uncached, and only to refuse to overwrite them), and no managedFields on
// any cached object. namespaces limits the namespaced caches (--watch-namespaces); empty means
// all namespaces.
func CacheOptions(namespaces []string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{tokensv1.ManagedByLabel: tokensv1.ManagedByValue})},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
