package controllers

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// LastAppliedAnnotation is kubectl's client-side-apply copy of the whole object as applied:
// for a token or engine managed with `kubectl apply` (or a GitOps tool using it) it roughly
// doubles what the cache holds, and nothing the manager does reads it (docs/design.md §8).
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheOptions is the manager cache the controllers are written for (docs/design.md §4, §8): Secrets
// only when they carry our managed-by label (a cluster's Secrets can outweigh everything else;
// the others are read uncached, and only to refuse to overwrite them), and on every cached
// object only what reconciliation reads (StripUnread). namespaces limits the namespaced caches
// (--watch-namespaces); empty means all namespaces.
func CacheOptions(namespaces []string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{tokensv1.ManagedByLabel: tokensv1.ManagedByValue})},
		},
		DefaultTransform: StripUnread,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// StripUnread is the cache's transform: it drops managedFields from every object,
// LastAppliedAnnotation from tokens and engines, and from tokens a first mint's intent annotation
// once status has recorded it (it then stands for nothing, and stays on the server:
// docs/design.md §3 step 2). Tokens and engines are only ever patched, so what the cache drops
// stays on the server. Tokens and our Secrets are then compacted (compact.go); Secrets keep only
// what the lifecycle reads, which it may because it patches them too.
func StripUnread(obj any) (any, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil // a tombstone or a type without metadata: nothing to strip
	}
	o.SetManagedFields(nil)
	if s, secret := obj.(*corev1.Secret); secret {
		compactSecret(s)
		return obj, nil
	}
	drop := []string{LastAppliedAnnotation}
	if st := tokenStatus(obj); st != nil {
		a := o.GetAnnotations()[tokensv1.PendingMintAnnotation]
		if a != "" && lifecycle.PendingFromIntent(a, st, o.GetNamespace(), o.GetName(), o.GetUID()) == nil {
			drop = append(drop, tokensv1.PendingMintAnnotation)
		}
	}
	o.SetAnnotations(withoutKeys(o.GetAnnotations(), drop...))
	compactToken(obj)
	return obj, nil
}

// withoutKeys is m without keys: m itself when it holds none of them, else a copy.
func withoutKeys(m map[string]string, keys ...string) map[string]string {
	if !slices.ContainsFunc(keys, func(k string) bool { _, ok := m[k]; return ok }) {
		return m
	}
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// tokenStatus is the status of a token resource, or nil for any other object.
func tokenStatus(obj any) *tokensv1.TokenStatus {
	switch t := obj.(type) {
	case *tokensv1.DatabaseToken:
		return &t.Status.TokenStatus
	case *tokensv1.SystemToken:
		return &t.Status.TokenStatus
	}
	return nil
}
