package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tokenops/token-operator/internal/tokenengine"
)

func newEngineCommand() *cobra.Command {
	var (
		sc        tokenengine.ServeConfig
		logFormat string
	)
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Run the in-cluster token engine (InfluxDB 3 compatible token API)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logFormat)
			if err != nil {
				return err
			}
			sc.Logger = logger
			// SIGTERM is how Kubernetes stops the pod; Serve drains requests and closes the store.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := tokenengine.Serve(ctx, sc); err != nil {
				logger.Error("Token engine stopped", "err", err)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sc.Listen, "listen", ":8181", "TCP address to serve the token API on")
	f.StringVar(&sc.DataDir, "data-dir", "/var/lib/token-engine", "directory for the token store (one bbolt file)")
	f.StringVar(&sc.AdminTokenFile, "admin-token-file", "", `admin token file in InfluxDB 3's format {"token":"apiv3_…"}; the operator token is set from it at start`)
	f.StringVar(&sc.TLSCertFile, "tls-cert-file", "", "TLS certificate file; serves HTTPS together with --tls-key-file")
	f.StringVar(&sc.TLSKeyFile, "tls-key-file", "", "TLS private key file")
	f.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	f.BoolVar(&sc.EnableUnauthenticatedAdminBootstrap, "enable-unauthenticated-admin-bootstrap", false,
		"allow POST /api/v3/configure/token/admin without a token while no operator token exists")
	f.DurationVar(&sc.ExpiredRetention, "expired-token-retention", tokenengine.DefaultExpiredRetention,
		"how long expired tokens stay listed in system.tokens before they are deleted")
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
