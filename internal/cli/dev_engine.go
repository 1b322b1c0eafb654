package cli

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/scheme"
)

// installDevEngine creates (or brings up to date, on a restart with a new engine address) the
// namespace, the engine's admin token Secret and the default ClusterTokenEngine of `dev`, which
// serves every namespace (allowedNamespaces matchNames ["*"]).
func installDevEngine(ctx context.Context, cfg *rest.Config, url, adminToken string) error {
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: devNamespace}}
	if _, err := controllerutil.CreateOrUpdate(ctx, c, ns, func() error { return nil }); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: devAdminSecretName, Namespace: devNamespace}}
	if _, err := controllerutil.CreateOrUpdate(ctx, c, sec, func() error {
		// Our label puts it in the manager's Secret cache, so the engine is re-checked when it changes.
		metav1.SetMetaDataLabel(&sec.ObjectMeta, tokensv1.ManagedByLabel, tokensv1.ManagedByValue)
		sec.Data = map[string][]byte{tokensv1.TokenSecretKey: []byte(adminToken)}
		return nil
	}); err != nil {
		return err
	}
	cte := &tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: devEngineName}}
	_, err = controllerutil.CreateOrUpdate(ctx, c, cte, func() error {
		metav1.SetMetaDataAnnotation(&cte.ObjectMeta, tokensv1.DefaultEngineAnnotation, "true")
		cte.Spec.EngineSpec = tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(url),
			AdminTokenSecretRef: tokensv1.SecretKeySelector{
				Namespace: devNamespace, Name: devAdminSecretName, Key: tokensv1.TokenSecretKey,
			},
		}}
		// dev is a single-user sandbox: it opts in to every namespace, explicitly (the chart and
		// config/engine default to none); runDev prints that it did.
		cte.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{DevAllowedNamespaces}}
		return nil
	})
	return err
}

// DevAllowedNamespaces is what dev's ClusterTokenEngine allows: every namespace. Only dev does
// this; see docs/security.md.
const DevAllowedNamespaces = "*"
