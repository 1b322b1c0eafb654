package tokenengine

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// CertCheckInterval is how often, at most, the serving certificate files are checked for a
// change. A rotated Secret reaches the pod's volume within the kubelet's sync period (about a
// minute); new handshakes use the new certificate from the next check on, open connections keep
// theirs, so a rotation needs no restart and drops no request (docs/token-engine.md, "TLS").
const CertCheckInterval = 5 * time.Second

// certReloader serves the certificate in certFile/keyFile and re-reads them when they change.
type certReloader struct {
	certFile, keyFile string
	clock             clock.PassiveClock
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

func newCertReloader(certFile, keyFile string, c clock.PassiveClock, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, clock: c, log: log}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, c.Now()
	return r, nil
}

// fileStamp changes whenever either file is replaced (Secret volumes swap a symlink).
func (r *certReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("reading the TLS files: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

// getCertificate is tls.Config.GetCertificate. A certificate that fails to load is logged and
// the previous one kept: a half-written rotation must not take the engine down.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	if now.Sub(r.checked) < CertCheckInterval {
		return r.cert, nil
	}
	r.checked = now
	stamp, err := r.fileStamp()
	if err != nil || stamp == r.stamp {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.log.Warn("Kept the previous TLS certificate: the new files do not load", "err", err)
		return r.cert, nil
	}
	r.cert, r.stamp = &cert, stamp
	r.log.Info("Loaded a new TLS certificate")
	return r.cert, nil
}
