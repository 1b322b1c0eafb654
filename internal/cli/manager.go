package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/metrics"
	"github.com/tokenops/token-operator/internal/metricsauth"
	"github.com/tokenops/token-operator/internal/scheme"
)

// Leader election: one lease in the manager's namespace. The Role (not a ClusterRole) limits it there.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=token-operator
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=token-operator

// memoryLimitRatio is the share of the container's memory limit given to the Go runtime as
// GOMEMLIMIT (docs/manager.md, docs/design.md §8): the rest is for what the Go heap does not
// count (stacks, the binary, buffers); near the limit the GC runs harder instead of the kernel
// OOM-killing a heap that would have shrunk. An explicit GOMEMLIMIT, or AUTOMEMLIMIT=off, wins.
const memoryLimitRatio = 0.9

// leaderElectionID names the lease; one per installation namespace.
const leaderElectionID = "token-operator.tokens.tokenops.dev"

// managerFlags are the manager command's settings.
type managerFlags struct {
	kubeconfig          string
	namespace           string
	watchNamespaces     []string
	leaderElect         bool
	metricsAddr         string
	metricsSecure       bool
	probeAddr           string
	pprofAddr           string
	maxConcurrent       int
	qps                 float64
	burst               int
	engineCheckInterval time.Duration
	engineRetryInterval time.Duration
	zap                 zap.Options
}

// High enough that a burst of 10,000 tokens is limited by the API server, not by client-side
// throttling (docs/design.md §8).
const (
	defaultQPS   = 200
	defaultBurst = 400
)

// defaultManagerFlags are the manager's flag defaults; `dev` starts from them too.
func defaultManagerFlags() managerFlags {
	return managerFlags{
		namespace: envOr("POD_NAMESPACE", "token-operator"), leaderElect: true,
		metricsAddr: ":8080", probeAddr: ":8081",
		maxConcurrent: controllers.DefaultMaxConcurrentReconciles, qps: defaultQPS, burst: defaultBurst,
		engineCheckInterval: controllers.DefaultEngineCheckInterval, engineRetryInterval: controllers.DefaultEngineRetryInterval,
	}
}

func newManagerCommand() *cobra.Command {
	d := defaultManagerFlags()
	f := &managerFlags{}
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the controllers that reconcile DatabaseToken, SystemToken and engine resources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runManager(ctrl.SetupSignalHandler(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig; default: $KUBECONFIG, the in-cluster config, or ~/.kube/config")
	fs.StringVar(&f.namespace, "namespace", d.namespace,
		"namespace the operator runs in: the leader election lease, and ClusterTokenEngine Secret references without a namespace ($POD_NAMESPACE)")
	fs.StringSliceVar(&f.watchNamespaces, "watch-namespaces", nil,
		"comma-separated namespaces whose tokens and TokenEngines are reconciled; empty: all. ClusterTokenEngines are always watched")
	fs.BoolVar(&f.leaderElect, "leader-elect", d.leaderElect, "elect a leader so that only one replica reconciles")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", d.metricsAddr, `address of the Prometheus metrics endpoint; "0" disables it`)
	fs.BoolVar(&f.metricsSecure, "metrics-secure", d.metricsSecure,
		"serve metrics over HTTPS (a self-signed certificate held in memory) to callers that present a Kubernetes token allowed to get the /metrics non-resource URL (TokenReview + SubjectAccessReview); the chart turns it on")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", d.probeAddr, "address of the /healthz and /readyz probes")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "",
		"address of Go's /debug/pprof endpoints (heap profiles of the caches; unauthenticated, so loopback only); empty: off")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-reconciles", d.maxConcurrent, "workers per token kind")
	fs.Float64Var(&f.qps, "kube-api-qps", d.qps, "sustained requests per second to the Kubernetes API")
	fs.IntVar(&f.burst, "kube-api-burst", d.burst, "request burst to the Kubernetes API")
	fs.DurationVar(&f.engineCheckInterval, "engine-check-interval", d.engineCheckInterval,
		"how often a Ready engine is re-checked (±10%); also how long an unlabelled credentials Secret change may take to be seen")
	fs.DurationVar(&f.engineRetryInterval, "engine-retry-interval", d.engineRetryInterval,
		"how often an engine that is not Ready is re-checked (±10%)")
	// Production logs are JSON; --zap-devel=true gives human-readable console logs.
	gofs := flag.NewFlagSet("zap", flag.ContinueOnError)
	f.zap.BindFlags(gofs)
	fs.AddGoFlagSet(gofs)
	return cmd
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func runManager(ctx context.Context, f *managerFlags) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
	log := ctrl.Log.WithName("manager")
	setMemoryLimit(log)
	if f.namespace == "" {
		return errors.New("--namespace (or $POD_NAMESPACE) must name the namespace the operator runs in")
	}
	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst
	mgr, err := ctrl.NewManager(cfg, managerOptions(f))
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := setupControllers(ctx, mgr, f); err != nil {
		return err
	}
	// Per-token gauges are read from the cache at scrape time: no reconcile keeps metric state.
	if err := metrics.RegisterTokenCollector(mgr.GetCache(), ctrl.Log.WithName("metrics")); err != nil {
		return fmt.Errorf("registering the token metrics: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", cacheSynced(mgr)); err != nil {
		return err
	}
	log.Info("Starting the manager", "namespace", f.namespace, "watchNamespaces", f.watchNamespaces, "leaderElect", f.leaderElect)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped")
		return err
	}
	return nil
}

// setMemoryLimit sets GOMEMLIMIT to memoryLimitRatio of the cgroup's memory limit (the
// container's), with automemlimit; without a limit (a developer's machine) nothing changes.
func setMemoryLimit(log logr.Logger) {
	limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	switch {
	case err != nil:
		log.V(1).Info("Left the Go memory limit unset: no cgroup memory limit found", "reason", err.Error())
	case limit > 0 && limit < math.MaxInt64:
		log.Info("Set the Go memory limit from the container's memory limit", "GOMEMLIMIT", limit, "ratio", memoryLimitRatio)
	}
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("reading --kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the Kubernetes API (set --kubeconfig or $KUBECONFIG): %w", err)
	}
	return cfg, nil
}

func managerOptions(f *managerFlags) ctrl.Options {
	return ctrl.Options{
		Scheme:                        scheme.New(),
		Cache:                         controllers.CacheOptions(cleanNamespaces(f.watchNamespaces)),
		Metrics:                       metricsOptions(f),
		HealthProbeBindAddress:        f.probeAddr,
		PprofBindAddress:              f.pprofAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       f.namespace,
		LeaderElectionReleaseOnCancel: true,
	}
}

// Secure metrics check each caller's token with the API server (kubebuilder's default layout).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// metricsOptions serves plain HTTP unless --metrics-secure: then HTTPS, and only to a caller whose
// token may get /metrics. The self-signed certificate is made in memory: nothing is written to the
// pod's read-only root (docs/install-helm.md, "The pod contract").
func metricsOptions(f *managerFlags) metricsserver.Options {
	o := metricsserver.Options{BindAddress: f.metricsAddr}
	if f.metricsSecure {
		o.SecureServing = true
		o.FilterProvider = metricsauth.Filter
	}
	return o
}

func cleanNamespaces(in []string) []string {
	var out []string
	for _, ns := range in {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// setupControllers wires the engine and token reconcilers from the flags (controllers.Setup).
func setupControllers(ctx context.Context, mgr ctrl.Manager, f *managerFlags) error {
	_, err := controllers.Setup(ctx, mgr, &controllers.EngineDeps{
		ManagerNamespace: f.namespace,
		CheckInterval:    f.engineCheckInterval, RetryInterval: f.engineRetryInterval,
		WatchNamespaces: cleanNamespaces(f.watchNamespaces),
	}, &controllers.TokenDeps{
		MaxConcurrentReconciles: f.maxConcurrent,
		LeaderElection:          f.leaderElect,
	})
	if err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	return nil
}

// cacheSynced makes /readyz wait for the informers' first sync.
func cacheSynced(mgr ctrl.Manager) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches have not synced yet")
		}
		return nil
	}
}
