package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenops/token-operator/internal/gateway"
)

func newGatewayCommand() *cobra.Command {
	var (
		cfg                         gateway.Config
		listen, upstream, tokenFile string
		probeAddr                   string
		tlsCertFile, tlsKeyFile     string
		engineCAFile                string
	)
	cmd := serviceCommand("gateway", "Run the authorizing reverse proxy in front of InfluxDB (tokens checked by the token engine)", func(ctx context.Context, logger *slog.Logger) error {
		var err error
		if cfg.Upstream, err = url.Parse(upstream); err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
		if cfg.UpstreamToken, err = readUpstreamToken(tokenFile); err != nil {
			return err
		}
		cfg.Logger = logger
		if cfg.EngineClient, err = engineClient(engineCAFile); err != nil {
			return err
		}
		p, err := gateway.New(cfg)
		if err != nil {
			return err
		}
		if probeAddr != "0" {
			probes, err := serveProbes(ctx, probeAddr)
			if err != nil {
				return err
			}
			logger.Info("Probes listening", "addr", probes)
		}
		return serveGateway(ctx, p, listen, tlsCertFile, tlsKeyFile, logger.Info)
	})
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":8182", "TCP address to serve on")
	f.StringVar(&upstream, "upstream", "", "InfluxDB base URL, e.g. http://influxdb3:8181 (required)")
	f.StringVar(&tokenFile, "upstream-token-file", "", `file with the token sent upstream: the token alone, or JSON {"token":"…"} (required)`)
	f.StringVar(&cfg.EngineURL, "engine-url", "", "token engine base URL, e.g. http://token-engine:8181 (required)")
	f.StringVar(&engineCAFile, "engine-ca-file", "", "PEM CA bundle the token engine's certificate is checked against, for an https --engine-url (default: the system roots)")
	f.Int64Var(&cfg.MaxQueryBody, "max-query-body", gateway.DefaultMaxQueryBody, "largest POST query body read to authorize it, in bytes (larger: 413)")
	f.DurationVar(&cfg.CacheTTL, "auth-cache-ttl", gateway.DefaultCacheTTL, "how long an engine answer is reused; bounds how late a revocation takes effect (negative: no cache)")
	f.StringVar(&tlsCertFile, "tls-cert-file", "", "TLS certificate file; serves HTTPS together with --tls-key-file")
	f.StringVar(&tlsKeyFile, "tls-key-file", "", "TLS private key file")
	f.StringVar(&probeAddr, "health-probe-bind-address", ":8183", `address of /healthz and /readyz (a port of their own, so no InfluxDB path is shadowed); "0" disables it`)
	for _, name := range []string{"upstream", "upstream-token-file", "engine-url"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// engineClient is the HTTP client for the engine's authorize calls: nil (the gateway's default)
// without caFile, else one trusting only the CAs in caFile, as the chart's HTTPS engine needs.
func engineClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--engine-ca-file: %w", err)
	}
	c, err := gateway.NewEngineClient(pem)
	if err != nil {
		return nil, fmt.Errorf("--engine-ca-file %s: %w", caFile, err)
	}
	return c, nil
}

// readUpstreamToken reads the token alone or InfluxDB 3's admin token file format.
func readUpstreamToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--upstream-token-file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "{") {
		var f struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			return "", errors.New("--upstream-token-file: not a JSON token file")
		}
		s = f.Token
	}
	if s == "" {
		return "", errors.New("--upstream-token-file: the file holds no token")
	}
	return s, nil
}

// serveProbes serves /healthz and /readyz until ctx ends. The gateway is ready once it is
// configured (the upstream token read, the proxy built): that has happened before this is called.
// Neither probe asks the engine or InfluxDB, so an outage of either does not restart or unroute
// every gateway pod; requests then get 502 from the proxy itself.
func serveProbes(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--health-probe-bind-address: %w", err)
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return ln.Addr().String(), nil
}

// serveGateway serves h until ctx ends, then drains for up to 10 s.
func serveGateway(ctx context.Context, h http.Handler, listen, certFile, keyFile string, info func(string, ...any)) error {
	if (certFile == "") != (keyFile == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	info("Gateway listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
