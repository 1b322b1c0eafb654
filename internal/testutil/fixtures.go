// Package testutil builds test fixtures of our API kinds with functional options, so each test
// states only what matters to it: testutil.DatabaseToken("a", testutil.InNamespace("b")).
package testutil

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// Option changes a token fixture; it applies to both token kinds through their common spec.
type Option func(meta *metav1.ObjectMeta, spec *tokensv1.TokenCommonSpec)

// InNamespace places the token in ns.
func InNamespace(ns string) Option {
	return func(m *metav1.ObjectMeta, _ *tokensv1.TokenCommonSpec) { m.Namespace = ns }
}

// WithAnnotation sets an annotation on the token.
func WithAnnotation(k, v string) Option {
	return func(m *metav1.ObjectMeta, _ *tokensv1.TokenCommonSpec) {
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[k] = v
	}
}

// ExpiresAfter sets spec.expiresAfter, e.g. "30s" or "7d".
func ExpiresAfter(d string) Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) {
		v := tokensv1.Duration(d)
		s.ExpiresAfter = &v
	}
}

// WithSecretName sets spec.secret.name.
func WithSecretName(name string) Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) { s.Secret.Name = name }
}

// WithExtraKey adds a spec.secret.extraKeys template.
func WithExtraKey(k, tmpl string) Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) {
		if s.Secret.ExtraKeys == nil {
			s.Secret.ExtraKeys = map[string]string{}
		}
		s.Secret.ExtraKeys[k] = tmpl
	}
}

// WithDeletionPolicy sets spec.deletionPolicy.
func WithDeletionPolicy(p tokensv1.DeletionPolicy) Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) { s.DeletionPolicy = p }
}

// WithEngine sets spec.engineRef.
func WithEngine(kind tokensv1.EngineKind, name string) Option {
	return func(_ *metav1.ObjectMeta, s *tokensv1.TokenCommonSpec) {
		s.EngineRef = &tokensv1.EngineReference{Kind: kind, Name: name}
	}
}

// DatabaseToken returns a DatabaseToken granting write on "telemetry" unless WithPermissions
// says otherwise (permissions are DatabaseToken-only, so they are an argument, not an Option).
func DatabaseToken(name string, opts ...Option) *tokensv1.DatabaseToken {
	t := &tokensv1.DatabaseToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: tokensv1.DatabaseTokenSpec{Permissions: []tokensv1.DatabasePermission{
			{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite}},
		}},
	}
	for _, o := range opts {
		o(&t.ObjectMeta, &t.Spec.TokenCommonSpec)
	}
	return t
}

// WithPermissions replaces a DatabaseToken's permissions.
func WithPermissions(t *tokensv1.DatabaseToken, perms ...tokensv1.DatabasePermission) *tokensv1.DatabaseToken {
	t.Spec.Permissions = perms
	return t
}

// SystemToken returns a SystemToken for the given system resources (e.g. "metrics").
func SystemToken(name string, resources []tokensv1.SystemResource, opts ...Option) *tokensv1.SystemToken {
	t := &tokensv1.SystemToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       tokensv1.SystemTokenSpec{Resources: resources},
	}
	for _, o := range opts {
		o(&t.ObjectMeta, &t.Spec.TokenCommonSpec)
	}
	return t
}

// AdminSecretName is the Secret an installation keeps the engine's admin token in, under "token".
const AdminSecretName = "token-engine-admin"

// AdminSecret is Secret AdminSecretName in ns holding an engine's admin token.
func AdminSecret(ns, token string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: AdminSecretName, Namespace: ns},
		Data: map[string][]byte{"token": []byte(token)}}
}

// DefaultEngine is the default ClusterTokenEngine ("default", annotated as the default engine)
// of the InfluxDB 3 compatible engine at url, reading its admin token from AdminSecret in
// secretNS, and serving the allowed namespaces.
func DefaultEngine(url, secretNS string, allowed ...string) *tokensv1.ClusterTokenEngine {
	return &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Annotations: map[string]string{tokensv1.DefaultEngineAnnotation: "true"}},
		Spec: tokensv1.ClusterTokenEngineSpec{
			EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
				URL:                 tokensv1.EngineURL(url),
				AdminTokenSecretRef: tokensv1.SecretKeySelector{Namespace: secretNS, Name: AdminSecretName, Key: "token"},
			}},
			AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: allowed},
		},
	}
}
