package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/kubestore"
)

// Values of --store (docs/token-engine.md, "Stores").
const (
	storeBbolt      = "bbolt"
	storeKubernetes = "kubernetes"
)

// serviceAccountNamespaceFile is where a pod finds its own namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// kubeStoreFlags are the flags of the kubernetes store, shared by `engine` and `engine migrate`.
type kubeStoreFlags struct {
	kubeconfig  string
	namespace   string
	maxWatchGap time.Duration
}

func (k *kubeStoreFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig for --store=kubernetes; default: $KUBECONFIG, the in-cluster config, or ~/.kube/config")
	f.StringVar(&k.namespace, "namespace", "", "namespace of the EngineTokens for --store=kubernetes; default: $POD_NAMESPACE, then the pod's own namespace")
	f.DurationVar(&k.maxWatchGap, "store-max-watch-gap", kubestore.DefaultMaxWatchGap,
		"with --store=kubernetes: how long the EngineToken watch may be broken before the engine answers 503 and is not ready")
}

// open opens the kubernetes store and waits for its first list.
func (k *kubeStoreFlags) open(ctx context.Context, logger *slog.Logger) (*kubestore.Store, error) {
	ns := k.namespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		return nil, fmt.Errorf("--store=%s needs --namespace (or $POD_NAMESPACE)", storeKubernetes)
	}
	cfg, err := restConfig(k.kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubestore.New(ctx, kubestore.Config{RestConfig: cfg, Namespace: ns, MaxWatchGap: k.maxWatchGap, Logger: logger})
}

func newEngineCommand() *cobra.Command {
	var (
		sc    tokenengine.ServeConfig
		store string
		kube  kubeStoreFlags
	)
	cmd := serviceCommand("engine", "Run the in-cluster token engine (InfluxDB 3 compatible token API)", func(ctx context.Context, logger *slog.Logger) error {
		sc.Logger = logger
		switch store {
		case storeBbolt:
		case storeKubernetes:
			ks, err := kube.open(ctx, logger)
			if err != nil {
				logger.Error("Token engine stopped", "err", err)
				return err
			}
			sc.Store = ks
		default:
			return fmt.Errorf("--store must be %s or %s, got %q", storeBbolt, storeKubernetes, store)
		}
		if err := tokenengine.Serve(ctx, sc); err != nil {
			logger.Error("Token engine stopped", "err", err)
			return err
		}
		return nil
	})
	f := cmd.Flags()
	f.StringVar(&sc.Listen, "listen", ":8181", "TCP address to serve the token API on")
	f.StringVar(&store, "store", storeBbolt, "where tokens are kept: bbolt (one file in --data-dir, one replica) or kubernetes (EngineToken objects, any number of replicas)")
	f.StringVar(&sc.DataDir, "data-dir", "/var/lib/token-engine", "directory for the bbolt token store")
	f.StringVar(&sc.AdminTokenFile, "admin-token-file", "", `admin token file in InfluxDB 3's format {"token":"apiv3_…"}; the operator token is set from it at start`)
	f.StringVar(&sc.TLSCertFile, "tls-cert-file", "", "TLS certificate file; serves HTTPS together with --tls-key-file; re-read when it changes")
	f.StringVar(&sc.TLSKeyFile, "tls-key-file", "", "TLS private key file")
	f.DurationVar(&sc.ShutdownDelay, "shutdown-delay", 0, "how long to keep serving after SIGTERM, with /readyz failing and keep-alive off, before closing the port: long enough for the Service to drop this replica (the chart sets 10s with store kubernetes)")
	f.BoolVar(&sc.EnableUnauthenticatedAdminBootstrap, "enable-unauthenticated-admin-bootstrap", false,
		"allow POST /api/v3/configure/token/admin without a token while no operator token exists")
	f.DurationVar(&sc.ExpiredRetention, "expired-token-retention", tokenengine.DefaultExpiredRetention,
		"how long expired tokens stay listed in system.tokens before they are deleted")
	kube.bind(cmd)
	cmd.AddCommand(newEngineMigrateCommand())
	return cmd
}

// serviceCommand is a long-running subcommand (engine, gateway): it has --log-format, and run gets
// the logger that names and a context that Ctrl-C or SIGTERM (how Kubernetes stops the pod)
// cancels, so that the service drains and closes its store.
func serviceCommand(use, short string, run func(ctx context.Context, logger *slog.Logger) error) *cobra.Command {
	var logFormat string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logFormat)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, logger)
		},
	}
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format: json or text")
	return cmd
}

func newLogger(format string) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, got %q", format)
}
