package cli_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// The namespaces of the installation the manager process tests run: the operator's and an app's.
const opNS, appNS = "tokens-system", "monitoring"

// installation is what a user has before starting the manager: a control plane with our CRDs,
// a token engine, its admin token in a Secret in the operator's namespace, and the default
// ClusterTokenEngine pointing at it; plus the built binary.
type installation struct {
	bin, kubeconfig string
	k8s             client.Client
	engine          *tokenenginetest.Instance
	cte             *tokensv1.ClusterTokenEngine
}

func newInstallation(t *testing.T) *installation {
	t.Helper()
	cfg, kubeconfig := testenv.Start(t, true)
	in := &installation{kubeconfig: kubeconfig, k8s: testenv.Client(t, cfg), engine: tokenenginetest.Start(t)}
	var err error
	if in.bin, err = testenv.BuildOperator(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{opNS, appNS} {
		create(t, in.k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	create(t, in.k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "token-engine-admin"},
		Data: map[string][]byte{"token": []byte(in.engine.AdminToken)}})
	in.cte = &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Annotations: map[string]string{tokensv1.DefaultEngineAnnotation: "true"}},
		Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(in.engine.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "token-engine-admin"},
		}}, AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{appNS}}},
	}
	create(t, in.k8s, in.cte)
	return in
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}
