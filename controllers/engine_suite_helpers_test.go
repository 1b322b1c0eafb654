package controllers_test

import (
	"context"
	"io"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engineref"
)

const (
	engTimeout = 30 * time.Second
	engPoll    = 50 * time.Millisecond
	// engTestLabel scopes each test's ClusterTokenEngines: a test's manager caches only its own,
	// so tests (and their default engines) cannot see each other's cluster-scoped engines.
	engTestLabel = "tokens.tokenops.dev/test"
)

// engineEnv is one test's namespace and a manager running the engine reconcilers (and the token
// reconcilers with the real resolver), with the manager namespace set to that namespace.
type engineEnv struct {
	ns string
	// other is a second watched namespace, for what must not cross namespaces.
	other    string
	resolver *engineref.CachedResolver
}

// startEngineManager runs the engine reconcilers for namespace ns and the ClusterTokenEngines
// labelled for it; deps' intervals default to fast re-checks.
func startEngineManager(t *testing.T, deps controllers.EngineDeps) *engineEnv {
	t.Helper()
	return startEngineManagerWith(t, deps, false)
}

// startEngineManagerWith also runs the token reconcilers with the real resolver when withTokens.
func startEngineManagerWith(t *testing.T, deps controllers.EngineDeps, withTokens bool) *engineEnv {
	t.Helper()
	ns, other := newNamespace(t), newNamespace(t)
	opts := controllers.CacheOptions([]string{ns, other})
	opts.ByObject[&tokensv1.ClusterTokenEngine{}] = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{engTestLabel: ns})}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 zap.New(zap.WriteTo(io.MultiWriter(&managerLogs, testWriter{t}))),
		Cache:                  opts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	deps.ManagerNamespace = ns
	if deps.CheckInterval == 0 {
		deps.CheckInterval = time.Second
	}
	if deps.RetryInterval == 0 {
		deps.RetryInterval = 500 * time.Millisecond
	}
	if deps.CheckTimeout == 0 {
		deps.CheckTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	var tokens *controllers.TokenDeps
	if withTokens {
		tokens = &controllers.TokenDeps{}
	}
	r, err := controllers.Setup(ctx, mgr, &deps, tokens)
	if err != nil {
		t.Fatal(err)
	}
	resolver := r.(*engineref.CachedResolver)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return &engineEnv{ns: ns, other: other, resolver: resolver}
}

// engineCredentials labels a Secret as one a TokenEngine may read.
var engineCredentials = map[string]string{tokensv1.EngineCredentialsLabel: "true"}

// adminSecret creates a credentials Secret; extra labels make it one the manager caches.
func (e *engineEnv) adminSecret(t *testing.T, ns, name, token string, lbls map[string]string) *corev1.Secret {
	t.Helper()
	minted.add(token) // the plaintext scan looks for admin tokens too
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Data: map[string][]byte{"token": []byte(token)}}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// clusterEngine creates a ClusterTokenEngine scoped to this test, reading Secret "admin" from
// the manager namespace.
func (e *engineEnv) clusterEngine(t *testing.T, name, url string, mutate ...func(*tokensv1.ClusterTokenEngine)) *tokensv1.ClusterTokenEngine {
	t.Helper()
	cte := &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-" + name, Labels: map[string]string{engTestLabel: e.ns}},
		Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(url), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"},
		}}, AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"*"}}}, // tests narrow it
	}
	for _, m := range mutate {
		m(cte)
	}
	if err := k8s.Create(context.Background(), cte); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cte) })
	return cte
}

// engineCondition fetches obj and returns its condition typ (zero Condition when absent).
func engineCondition(g Gomega, obj tokensv1.GenericEngine, typ string) metav1.Condition {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	if c := meta.FindStatusCondition(obj.GetEngineStatus().Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// waitEngine waits until obj's Ready condition has status and reason for its current generation.
func waitEngine(t *testing.T, obj tokensv1.GenericEngine, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var c metav1.Condition
	NewWithT(t).Eventually(func(g Gomega) {
		c = engineCondition(g, obj, tokensv1.ConditionReady)
		g.Expect(c.Status).To(Equal(status), c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
		g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()))
	}).WithTimeout(engTimeout).WithPolling(engPoll).Should(Succeed())
	return c
}
