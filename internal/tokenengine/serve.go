package tokenengine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// shutdownGrace is how long in-flight requests get after the stop signal.
const shutdownGrace = 10 * time.Second

// ServeConfig is Config plus the listener settings of the engine process.
type ServeConfig struct {
	Config
	// Listen is the TCP address, e.g. ":8181".
	Listen string
	// TLSCertFile and TLSKeyFile enable TLS when both are set; they are re-read when they change.
	TLSCertFile, TLSKeyFile string
	// OnListening, when set, is called with the bound address before serving starts.
	OnListening func(net.Addr)
	// ShutdownDelay is how long the engine keeps serving after the stop signal, with /readyz 503
	// and no keep-alive, before it stops listening: a replica of a Service leaves its endpoints
	// (readiness probe, then kube-proxy) while it still answers, so clients never meet a closed
	// port (docs/token-engine.md, "Replicas").
	ShutdownDelay time.Duration
}

// Serve opens the engine, serves HTTP until ctx ends, then drains requests and closes the store.
func Serve(ctx context.Context, sc ServeConfig) error {
	if (sc.TLSCertFile == "") != (sc.TLSKeyFile == "") {
		return errors.New("TLS needs both a certificate file and a key file")
	}
	var certs *certReloader
	if sc.TLSCertFile != "" {
		var c clock.PassiveClock = sc.Clock
		if sc.Clock == nil {
			c = clock.RealClock{}
		}
		var err error
		if certs, err = newCertReloader(sc.TLSCertFile, sc.TLSKeyFile, c, slogOrDiscard(sc.Logger)); err != nil {
			if sc.Store != nil {
				_ = sc.Store.Close()
			}
			return err
		}
	}
	e, err := Open(sc.Config)
	if err != nil {
		return err
	}
	defer func() { _ = e.Close() }()
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", sc.Listen, err)
	}
	srv := &http.Server{
		Handler:           e.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	if certs != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
	}
	purgeCtx, stopPurge := context.WithCancel(ctx)
	defer stopPurge()
	go e.RunPurger(purgeCtx)

	if sc.OnListening != nil {
		sc.OnListening(ln.Addr())
	}
	e.log.Info("Serving token engine", "addr", ln.Addr().String(), "tls", sc.TLSCertFile != "")
	errc := make(chan error, 1)
	go func() {
		if certs != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	e.ready.Store(false)
	if sc.ShutdownDelay > 0 {
		e.log.Info("Draining before shutdown", "delay", sc.ShutdownDelay.String())
		// Each response now closes its connection, so clients reconnect through the Service,
		// which routes them to the other replicas once this one left the endpoints.
		srv.SetKeepAlivesEnabled(false)
		select {
		case <-time.After(sc.ShutdownDelay):
		case err := <-errc:
			return fmt.Errorf("serving: %w", err)
		}
	}
	e.log.Info("Shutting down token engine")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func slogOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
