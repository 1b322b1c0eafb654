package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
)

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := tokensv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// startAPIServer starts the real control plane with our CRDs.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	cfg, _ := testenv.Start(t, true)
	return cfg
}

func ready(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: tokensv1.ConditionReady, Status: status, Reason: reason, Message: "set by the test",
		LastTransitionTime: metav1.Now()}}
}

func at(unix int64) *metav1.Time { t := metav1.Unix(unix, 0); return &t }

// TestTokenCollectorOverTheCache runs the collector over a real informer cache of real
// DatabaseTokens and SystemTokens whose status the test sets, as the lifecycle would.
func TestTokenCollectorOverTheCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	g := NewWithT(t)
	cfg := startAPIServer(t)
	// Registered after the API server's cleanup, so it runs first: the cache's watches end before
	// the API server stops, which otherwise waits for them.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := newScheme(t)
	k8s, err := client.New(cfg, client.Options{Scheme: s})
	g.Expect(err).NotTo(HaveOccurred())

	// A cache that has not started: the collector reports nothing and the scrape still succeeds.
	idle, err := cache.New(cfg, cache.Options{Scheme: s})
	g.Expect(err).NotTo(HaveOccurred())
	idleReg := prometheus.NewPedanticRegistry()
	idleReg.MustRegister(NewTokenCollector(idle, testLogger(t)))
	g.Expect(exposition(t, idleReg)).To(BeEmpty())

	c, err := cache.New(cfg, cache.Options{Scheme: s})
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = c.Start(ctx) }()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewTokenCollector(c, testLogger(t)))

	const ns = "apps"
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	// Live and rotating; live without rotation; refused by policy before any mint; not reconciled yet.
	rotating := testutil.DatabaseToken("writer", testutil.InNamespace(ns))
	plain := testutil.SystemToken("scrape", []tokensv1.SystemResource{"metrics"}, testutil.InNamespace(ns))
	refused := testutil.DatabaseToken("refused", testutil.InNamespace(ns))
	fresh := testutil.DatabaseToken("fresh", testutil.InNamespace(ns))
	for _, o := range []client.Object{rotating, plain, refused, fresh} {
		g.Expect(k8s.Create(ctx, o)).To(Succeed())
	}
	rotating.Status.Conditions = ready(metav1.ConditionTrue, tokensv1.ReasonMinted)
	rotating.Status.Current = &tokensv1.TokenRecord{TokenName: "k8s.apps.writer.0000000.r1", Revision: 1,
		ExpiresAt: at(1_900_000_000), RenewAt: at(1_899_395_200), Fingerprint: "fingerprint-must-not-show"}
	g.Expect(k8s.Status().Update(ctx, rotating)).To(Succeed())
	plain.Status.Conditions = ready(metav1.ConditionTrue, tokensv1.ReasonMinted)
	plain.Status.Current = &tokensv1.TokenRecord{TokenName: "k8s.apps.scrape.0000000.r3", Revision: 3, ExpiresAt: at(1_950_000_000)}
	g.Expect(k8s.Status().Update(ctx, plain)).To(Succeed())
	refused.Status.Conditions = ready(metav1.ConditionFalse, tokensv1.ReasonNotPermitted)
	g.Expect(k8s.Status().Update(ctx, refused)).To(Succeed())

	want := `# HELP token_operator_token_expiry_timestamp_seconds When the token resource's live token expires (status.current.expiresAt), in Unix seconds; absent when it never expires.
# TYPE token_operator_token_expiry_timestamp_seconds gauge
token_operator_token_expiry_timestamp_seconds{kind="DatabaseToken",name="writer",namespace="apps"} 1.9e+09
token_operator_token_expiry_timestamp_seconds{kind="SystemToken",name="scrape",namespace="apps"} 1.95e+09
# HELP token_operator_token_renewal_timestamp_seconds When the token resource's successor will be minted (status.current.renewAt), in Unix seconds; absent without rotation.
# TYPE token_operator_token_renewal_timestamp_seconds gauge
token_operator_token_renewal_timestamp_seconds{kind="DatabaseToken",name="writer",namespace="apps"} 1.8993952e+09
# HELP token_operator_tokens Token resources by kind and by their Ready condition's status (True, False, Unknown) and reason; ready="Unknown" with an empty reason before the first reconcile.
# TYPE token_operator_tokens gauge
token_operator_tokens{kind="DatabaseToken",ready="False",reason="NotPermitted"} 1
token_operator_tokens{kind="DatabaseToken",ready="True",reason="Minted"} 1
token_operator_tokens{kind="DatabaseToken",ready="Unknown",reason=""} 1
token_operator_tokens{kind="SystemToken",ready="True",reason="Minted"} 1
`
	g.Eventually(func() string { return exposition(t, reg) }).WithTimeout(30 * time.Second).Should(Equal(want))
	g.Expect(exposition(t, reg)).NotTo(ContainSubstring("fingerprint"))
	families, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lintProblems(t, families, false)).To(BeEmpty())

	// A deleted token leaves no series behind: nothing to clean up.
	g.Expect(k8s.Delete(ctx, rotating)).To(Succeed())
	g.Eventually(func() string { return exposition(t, reg) }).WithTimeout(30 * time.Second).ShouldNot(ContainSubstring(`name="writer"`))
	g.Expect(exposition(t, reg, "token_operator_tokens")).NotTo(MatchRegexp(`kind="DatabaseToken",ready="True"`))
}

// blockingReader answers only when its context ends, like a cache whose informer never syncs.
type blockingReader struct{ client.Reader }

func (blockingReader) List(ctx context.Context, _ client.ObjectList, _ ...client.ListOption) error {
	<-ctx.Done()
	return errors.New("timed out waiting for the informer to sync")
}

// TestTokenCollectorDoesNotWaitForASyncingCache: a scrape during the first sync is bounded by
// ListTimeout and reports nothing rather than an error.
func TestTokenCollectorDoesNotWaitForASyncingCache(t *testing.T) {
	c := &TokenCollector{Reader: blockingReader{}, ListTimeout: 50 * time.Millisecond, Log: testLogger(t)}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	start := time.Now()
	if got := exposition(t, reg); got != "" {
		t.Errorf("exposition = %q, want nothing", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the scrape took %v", d)
	}
}

// TestMetricsAreLintClean runs promtool's linter over every metric this package defines, with
// samples present, and over controller-runtime's registry as the manager serves it.
func TestMetricsAreLintClean(t *testing.T) {
	m := NewEngineMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	f := fake.New()
	e := m.Wrap(f, "TokenEngine", "apps/influx", "influxdb2")
	if _, err := e.Mint(context.Background(), mintReq); err != nil {
		t.Fatal(err)
	}
	_ = e.Revoke(context.Background(), mintReq.Name, "")
	t.Run("engine", func(t *testing.T) {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(families) != 4 {
			t.Errorf("%d families, want 4", len(families))
		}
		if p := lintProblems(t, families, false); len(p) > 0 {
			t.Errorf("promlint: %s", strings.Join(p, "; "))
		}
	})
	t.Run("controller-runtime registry", func(t *testing.T) {
		Wrap(f, "ClusterTokenEngine", "default", "influxdb3") // so that its vectors have series to lint
		families, err := crRegistry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		if p := lintProblems(t, families, true); len(p) > 0 {
			t.Errorf("promlint: %s", strings.Join(p, "; "))
		}
	})
}
