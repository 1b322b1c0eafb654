package enginefactory

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

const (
	managerNS   = "token-operator"
	secretToken = "apiv3_secret-admin-token-value"
)

// secret is a credentials Secret, labelled as one (TokenEngines read no other).
func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{tokensv1.EngineCredentialsLabel: "true"}}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func unlabelled(s *corev1.Secret) *corev1.Secret {
	s.Labels = nil
	return s
}

func clusterEngine(mutate ...func(*tokensv1.ClusterTokenEngine)) *tokensv1.ClusterTokenEngine {
	e := &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "uid-1", Generation: 1},
		Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL:                 "http://engine.example:8181",
			AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin", Key: "token"},
		}}},
	}
	for _, m := range mutate {
		m(e)
	}
	return e
}

func namespacedEngine() *tokensv1.TokenEngine {
	return &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "own", UID: "uid-2", Generation: 1},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL:                 "https://engine.team-a:8181",
			AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"},
		}}},
	}
}

func newFactory(objs ...client.Object) *Factory {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = tokensv1.AddToScheme(s)
	return &Factory{Reader: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build(), ManagerNamespace: managerNS}
}

func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestBuild(t *testing.T) {
	ca := testCA(t)
	adminInManagerNS := secret(managerNS, "admin", map[string]string{"token": secretToken})
	tests := []struct {
		name       string
		obj        tokensv1.GenericEngine
		objs       []client.Object
		wantReason string // empty: success
		wantInMsg  string
		wantType   string
		wantURL    string
	}{
		{name: "cluster engine reads its Secret from the manager namespace by default",
			obj: clusterEngine(), objs: []client.Object{adminInManagerNS},
			wantType: tokensv1.EngineTypeInfluxDB3, wantURL: "http://engine.example:8181"},
		{name: "cluster engine honours an explicit Secret namespace",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3.AdminTokenSecretRef.Namespace = "elsewhere"
			}),
			objs:     []client.Object{secret("elsewhere", "admin", map[string]string{"token": secretToken})},
			wantType: tokensv1.EngineTypeInfluxDB3},
		{name: "token engine reads its Secret from its own namespace with the default key",
			obj: namespacedEngine(), objs: []client.Object{secret("team-a", "admin", map[string]string{"token": secretToken + "\n"})},
			wantType: tokensv1.EngineTypeInfluxDB3, wantURL: "https://engine.team-a:8181"},
		{name: "token engine refuses a Secret not labelled as engine credentials",
			obj: namespacedEngine(), objs: []client.Object{unlabelled(secret("team-a", "admin", map[string]string{"token": secretToken}))},
			wantReason: tokensv1.ReasonCredentialsNotFound, wantInMsg: "kubectl -n team-a label secret admin tokens.tokenops.dev/engine-credentials=true"},
		{name: "cluster engine reads an unlabelled Secret (cluster admins choose it)",
			obj: clusterEngine(), objs: []client.Object{unlabelled(secret(managerNS, "admin", map[string]string{"token": secretToken}))},
			wantType: tokensv1.EngineTypeInfluxDB3},
		{name: "token engine does not read a Secret of the same name in the manager namespace",
			obj: namespacedEngine(), objs: []client.Object{adminInManagerNS},
			wantReason: tokensv1.ReasonCredentialsNotFound, wantInMsg: "team-a/admin"},
		{name: "missing Secret",
			obj: clusterEngine(), wantReason: tokensv1.ReasonCredentialsNotFound, wantInMsg: "kubectl -n token-operator create secret generic admin"},
		{name: "missing key",
			obj: clusterEngine(), objs: []client.Object{secret(managerNS, "admin", map[string]string{"other": secretToken})},
			wantReason: tokensv1.ReasonCredentialsNotFound, wantInMsg: `key "token"`},
		{name: "empty token",
			obj: clusterEngine(), objs: []client.Object{secret(managerNS, "admin", map[string]string{"token": " \n"})},
			wantReason: tokensv1.ReasonUnauthorized, wantInMsg: "is empty"},
		{name: "bad CA bundle",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3.TLS = &tokensv1.TLSConfig{CABundle: "not a certificate"}
			}),
			// httpapi's message and reason, kept as they are (not rewritten by asBuildError).
			objs: []client.Object{adminInManagerNS}, wantReason: tokensv1.ReasonInvalidConfig, wantInMsg: "spec tls.caBundle holds no PEM certificate: paste"},
		{name: "good CA bundle",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3.URL = "https://engine.example:8181"
				e.Spec.InfluxDB3.TLS = &tokensv1.TLSConfig{CABundle: ca}
			}),
			objs: []client.Object{adminInManagerNS}, wantType: tokensv1.EngineTypeInfluxDB3},
		{name: "insecureSkipVerify",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3.TLS = &tokensv1.TLSConfig{InsecureSkipVerify: true}
			}),
			objs: []client.Object{adminInManagerNS}, wantType: tokensv1.EngineTypeInfluxDB3},
		{name: "influxdb2 reads its token and org",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.InfluxDB2 = &tokensv1.InfluxDB2Engine{URL: "http://v2:8086", Org: "o", TokenSecretRef: tokensv1.SecretKeySelector{Name: "admin", Key: "token"}}
			}),
			objs: []client.Object{adminInManagerNS}, wantType: tokensv1.EngineTypeInfluxDB2, wantURL: "http://v2:8086"},
		{name: "influxdb2 with an empty org",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.InfluxDB2 = &tokensv1.InfluxDB2Engine{URL: "http://v2:8086", TokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"}}
			}),
			objs: []client.Object{adminInManagerNS}, wantReason: tokensv1.ReasonInvalidConfig, wantInMsg: "organization"},
		{name: "cloudDedicated offers the data URL to templates",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.CloudDedicated = &tokensv1.CloudDedicatedEngine{URL: "https://console.influxdata.com/api/v0",
					AccountID: "11111111-2222-4333-8444-555555555555", ClusterID: "11111111-2222-4333-8444-666666666666",
					ManagementTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin", Key: "token"}, DataURL: "https://c.a.influxdb.io"}
			}),
			objs: []client.Object{adminInManagerNS}, wantType: tokensv1.EngineTypeCloudDedicated, wantURL: "https://c.a.influxdb.io"},
		{name: "cloudDedicated without cluster",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.CloudDedicated = &tokensv1.CloudDedicatedEngine{AccountID: "a", ManagementTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin", Key: "token"}}
			}),
			objs: []client.Object{adminInManagerNS}, wantReason: tokensv1.ReasonInvalidConfig, wantInMsg: "cluster ID"},
		{name: "influxdb1 reads username and password from one Secret",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.InfluxDB1 = &tokensv1.InfluxDB1Engine{URL: "http://v1:8086", CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: "v1admin", PasswordKey: "pw"}}
			}),
			objs:     []client.Object{secret(managerNS, "v1admin", map[string]string{"username": "admin", "pw": secretToken + "\n"})},
			wantType: tokensv1.EngineTypeInfluxDB1, wantURL: "http://v1:8086"},
		{name: "influxdb1 without the password key",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.InfluxDB1 = &tokensv1.InfluxDB1Engine{URL: "http://v1:8086", CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: "v1admin"}}
			}),
			objs:       []client.Object{secret(managerNS, "v1admin", map[string]string{"username": "admin"})},
			wantReason: tokensv1.ReasonCredentialsNotFound, wantInMsg: `key "password"`},
		{name: "influxdb1 with an empty password",
			obj: clusterEngine(func(e *tokensv1.ClusterTokenEngine) {
				e.Spec.InfluxDB3 = nil
				e.Spec.InfluxDB1 = &tokensv1.InfluxDB1Engine{URL: "http://v1:8086", CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: "v1admin"}}
			}),
			objs:       []client.Object{secret(managerNS, "v1admin", map[string]string{"username": "admin", "password": "\n"})},
			wantReason: tokensv1.ReasonUnauthorized, wantInMsg: "username or password"},
		{name: "no member set",
			obj:        clusterEngine(func(e *tokensv1.ClusterTokenEngine) { e.Spec.InfluxDB3 = nil }),
			wantReason: tokensv1.ReasonInvalidConfig, wantInMsg: "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newFactory(tt.objs...).Build(context.Background(), tt.obj)
			if tt.wantReason != "" {
				if err == nil {
					t.Fatalf("Build succeeded, want reason %s", tt.wantReason)
				}
				if got := engine.ReasonOf(err); got != tt.wantReason {
					t.Errorf("reason = %q, want %q (err: %v)", got, tt.wantReason, err)
				}
				if !strings.Contains(err.Error(), tt.wantInMsg) {
					t.Errorf("message %q does not contain %q", err.Error(), tt.wantInMsg)
				}
				if strings.Contains(err.Error(), secretToken) {
					t.Errorf("message leaks the token: %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			// Only InfluxDB 3 has system tokens (a SystemToken on another engine is refused).
			if b.Engine == nil || b.Type != tt.wantType || b.SupportsSystemTokens != (tt.wantType == tokensv1.EngineTypeInfluxDB3) || b.SecretVersion == "" {
				t.Errorf("Built = %+v", b)
			}
			if tt.wantURL != "" && b.WorkloadURL != tt.wantURL {
				t.Errorf("WorkloadURL = %q, want %q", b.WorkloadURL, tt.wantURL)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	withSpec := func(spec tokensv1.EngineSpec) tokensv1.GenericEngine {
		return &tokensv1.ClusterTokenEngine{Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: spec}}
	}
	ref := tokensv1.SecretKeySelector{Name: "s"}
	tests := []struct {
		obj  tokensv1.GenericEngine
		want Description
	}{
		{withSpec(tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{URL: "http://a", AdminTokenSecretRef: ref}}),
			Description{Type: "influxdb3", URL: "http://a", WorkloadURL: "http://a", Secret: types.NamespacedName{Namespace: managerNS, Name: "s"}, SupportsSystemTokens: true}},
		{withSpec(tokensv1.EngineSpec{InfluxDB2: &tokensv1.InfluxDB2Engine{URL: "http://b", TokenSecretRef: tokensv1.SecretKeySelector{Name: "s", Namespace: "x"}}}),
			Description{Type: "influxdb2", URL: "http://b", WorkloadURL: "http://b", Secret: types.NamespacedName{Namespace: "x", Name: "s"}}},
		{withSpec(tokensv1.EngineSpec{CloudDedicated: &tokensv1.CloudDedicatedEngine{URL: "https://c", DataURL: "https://data.c", ManagementTokenSecretRef: ref}}),
			Description{Type: "cloudDedicated", URL: "https://c", WorkloadURL: "https://data.c", Secret: types.NamespacedName{Namespace: managerNS, Name: "s"}}},
		{withSpec(tokensv1.EngineSpec{InfluxDB1: &tokensv1.InfluxDB1Engine{URL: "http://d", CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: "s"}}}),
			Description{Type: "influxdb1", URL: "http://d", WorkloadURL: "http://d", Secret: types.NamespacedName{Namespace: managerNS, Name: "s"}}},
		{namespacedEngine(), Description{Type: "influxdb3", URL: "https://engine.team-a:8181", WorkloadURL: "https://engine.team-a:8181",
			Secret: types.NamespacedName{Namespace: "team-a", Name: "admin"}, SupportsSystemTokens: true}},
		{withSpec(tokensv1.EngineSpec{}), Description{}},
	}
	for _, tt := range tests {
		if got := Describe(tt.obj, managerNS); got != tt.want {
			t.Errorf("Describe = %+v, want %+v", got, tt.want)
		}
	}
}
