package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

const (
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
	mgr := newTestManager(t, restCfg, ctrl.Options{Cache: opts})
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
	runManager(t, ctx, cancel, mgr, false)
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return &engineEnv{ns: ns, other: other, resolver: resolver}
}

// adminClient is an InfluxDB 3 client of inst with its admin token, to look at the engine
// directly.
func adminClient(t *testing.T, inst *tokenenginetest.Instance) *influxdb3.Client {
	t.Helper()
	c, err := influxdb3.New(httpapi.Config{URL: inst.URL}, engine.Plaintext(inst.AdminToken))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// engineCredentials labels a Secret as one a TokenEngine may read.
var engineCredentials = map[string]string{tokensv1.EngineCredentialsLabel: "true"}

// adminSecret creates a credentials Secret; extra labels make it one the manager caches.
func (e *engineEnv) adminSecret(t *testing.T, ns, name, token string, lbls map[string]string) *corev1.Secret {
	t.Helper()
	minted.Add(token) // the plaintext scan looks for admin tokens too
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

// readyStatus is the Ready status an engine check with reason sets: True only for Reachable.
func readyStatus(reason string) metav1.ConditionStatus {
	if reason == tokensv1.ReasonReachable {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
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
	}).WithTimeout(timeout).WithPolling(poll).Should(Succeed())
	return c
}
