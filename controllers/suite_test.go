package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	opscheme "github.com/tokenops/token-operator/internal/scheme"
	"github.com/tokenops/token-operator/internal/testenv"
)

// The controller tests run against the real kube-apiserver and etcd from `make control-plane`.
// Each test gets its own namespace and its own manager(s) watching only that namespace, so
// tests that stop and start managers (crash safety) or run two at once cannot disturb others.
var (
	restCfg *rest.Config
	k8s     client.Client
	scheme  = opscheme.New()

	// managerLogs collects every manager's log output for the plaintext scan.
	managerLogs testenv.Buffer
	// minted collects every plaintext any engine handed to a manager, for the plaintext scan.
	minted testenv.Lines
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// Loggers outside a manager (client-go reflectors) also go to the scanned buffer.
	ctrl.SetLogger(zap.New(zap.WriteTo(&managerLogs)))
	env, err := testenv.New(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	restCfg, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s, err = client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// recording wraps an engine and remembers every plaintext it returns, so the plaintext scan
// knows what to look for, including tokens whose Secret was never written.
type recording struct{ engine.Engine }

func (r recording) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	m, err := r.Engine.Mint(ctx, req)
	if err == nil {
		minted.Add(m.Token.Reveal())
		for _, v := range m.SecretData {
			if v.Reveal() != m.Name { // InfluxDB 1.x's username is the token name: not a secret
				minted.Add(v.Reveal())
			}
		}
	}
	return m, err
}

// newNamespace creates a namespace for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// managerCache is the production cache shape (only our Secrets, managedFields stripped),
// restricted to one namespace.
func managerCache(ns string) cache.Options { return controllers.CacheOptions([]string{ns}) }

// runningManager is a manager started by startManagerWith.
type runningManager struct {
	// cancel stops the manager without waiting: safe to call from inside a reconcile.
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels the manager and waits until it has returned.
func (m *runningManager) stop() { m.cancel(); <-m.done }

// startManager runs a manager with the token reconcilers over namespace ns until the test ends.
func startManager(t testing.TB, ns string, deps controllers.TokenDeps) *runningManager {
	t.Helper()
	return startManagerWith(t, ns, deps)
}

// startManagerWith runs a manager with the token reconcilers over namespace ns; it is stopped
// at test cleanup at the latest.
func startManagerWith(t testing.TB, ns string, deps controllers.TokenDeps, wrap ...transport.WrapperFunc) *runningManager {
	t.Helper()
	cfg := rest.CopyConfig(restCfg)
	for _, w := range wrap {
		cfg.Wrap(w)
	}
	mgr := newTestManager(t, cfg, ctrl.Options{Cache: managerCache(ns)})
	if deps.PendingGrace == 0 {
		deps.PendingGrace = time.Second
	}
	if _, err := controllers.Setup(context.Background(), mgr, nil, &deps); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return runManager(t, ctx, cancel, mgr, false)
}

// newTestManager builds a manager over cfg with opts (cache, leader election) and what every
// test manager has: logs to the test's log and managerLogs (none for a benchmark, which prints
// every b.Log line), no metrics or probe listeners, and controller names that may repeat
// (several managers live in one test process: crash tests, two managers at once).
func newTestManager(t testing.TB, cfg *rest.Config, opts ctrl.Options) ctrl.Manager {
	t.Helper()
	var logs io.Writer = io.MultiWriter(&managerLogs, testWriter{t})
	if _, ok := t.(*testing.B); ok {
		logs = io.Discard
	}
	opts.Scheme = scheme
	opts.Logger = zap.New(zap.WriteTo(logs), zap.UseDevMode(false))
	opts.Metrics = metricsserver.Options{BindAddress: "0"}
	opts.HealthProbeBindAddress = "0"
	opts.Controller = config.Controller{SkipNameValidation: ptr.To(true)}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// runManager starts mgr until ctx ends (cancel ends it), stopping it at test cleanup at the
// latest. Start's error fails the test unless stopErrorExpected (a leader's "leader election
// lost" on cancel).
func runManager(t testing.TB, ctx context.Context, cancel context.CancelFunc, mgr ctrl.Manager, stopErrorExpected bool) *runningManager {
	m := &runningManager{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := mgr.Start(ctx); err != nil && !stopErrorExpected {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// testWriter sends manager logs to the test's log, shown for failed tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// assertNoPlaintext fails when any minted plaintext or engine admin token appears in the
// manager logs, any event, the token resources' status in namespace ns, or any engine's status.
func assertNoPlaintext(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	var haystack strings.Builder
	haystack.WriteString(managerLogs.String())
	var events eventsv1.EventList // every namespace: ClusterTokenEngine events live in "default"
	var dbts tokensv1.DatabaseTokenList
	var sts tokensv1.SystemTokenList
	var ctes tokensv1.ClusterTokenEngineList
	var tes tokensv1.TokenEngineList
	for _, l := range []struct {
		list client.ObjectList
		opts []client.ListOption
	}{{&events, nil}, {&dbts, []client.ListOption{client.InNamespace(ns)}}, {&sts, []client.ListOption{client.InNamespace(ns)}},
		{&ctes, nil}, {&tes, nil}} {
		if err := k8s.List(ctx, l.list, l.opts...); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(l.list)
		haystack.Write(b)
	}
	all := haystack.String()
	secrets := minted.All()
	for _, p := range secrets {
		if strings.Contains(all, p) {
			t.Errorf("a token plaintext (%d characters) appears in logs, events or status", len(p))
		}
	}
	if len(secrets) == 0 {
		t.Error("the plaintext scan saw no minted token: the scan would prove nothing")
	}
}

// eventReasons returns the reasons of the events about the named object.
func eventReasons(t *testing.T, ns, name string) []string {
	t.Helper()
	return reasonsOf(t, ns, name, "")
}

// warningReasons returns the reasons of the Warning events about the named object.
func warningReasons(t *testing.T, ns, name string) []string {
	t.Helper()
	return reasonsOf(t, ns, name, corev1.EventTypeWarning)
}

// reasonsOf returns the reasons of the events of eventType ("": any) about the named object.
func reasonsOf(t *testing.T, ns, name, eventType string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && (eventType == "" || e.Type == eventType) {
			out = append(out, e.Reason)
		}
	}
	return out
}
