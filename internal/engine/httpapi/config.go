// Package httpapi is the HTTP plumbing shared by every HTTP engine adapter: a client built from
// one Config (URL, TLS, timeout), per-attempt timeouts, bounded retries for idempotent calls,
// a cap on response bodies, the mapping of network errors and 5xx to Transient engine errors, and
// error messages that never carry a credential.
package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/defaults"
	"github.com/tokenops/token-operator/internal/engine"
)

const (
	// DefaultTimeout bounds each HTTP attempt when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes caps a response body when Config.MaxResponseBytes is zero. Large
	// enough for a listing of tens of thousands of tokens' metadata.
	DefaultMaxResponseBytes = 16 << 20
	// DefaultAttempts is how many times an idempotent call is tried in all.
	DefaultAttempts = 3
	// DefaultBackoff is the wait before the first retry; it doubles after each attempt.
	DefaultBackoff = 200 * time.Millisecond
	// MaxIdleConnsPerEngine is how many keep-alive connections a client keeps to its engine. The
	// manager runs 16 workers per token kind (docs/design.md §8) against one client per engine;
	// net/http's default of 2 made the others close theirs after each call and pay a new TCP and
	// TLS handshake on the next one.
	MaxIdleConnsPerEngine = 32
)

// Config is how an adapter reaches its engine; the controllers fill it from the engine resource.
type Config struct {
	// URL is the engine's base URL, e.g. http://token-engine.token-operator.svc:8181.
	URL string
	// CABundle holds the PEM certificates that verify the engine's TLS certificate; when set,
	// they replace the system roots.
	CABundle []byte
	// InsecureSkipVerify disables TLS verification; for labs only.
	InsecureSkipVerify bool
	// Timeout bounds each HTTP attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxResponseBytes caps response bodies; DefaultMaxResponseBytes when zero.
	MaxResponseBytes int64
	// Attempts is how many times an idempotent call is tried; DefaultAttempts when zero.
	Attempts int
	// Backoff is the wait before the first retry; DefaultBackoff when zero.
	Backoff time.Duration
	// WrapTransport, when set, wraps the transport; tests use it to record requests (Recorder).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

func (c Config) withDefaults() Config {
	c.Timeout = defaults.Positive(c.Timeout, DefaultTimeout)
	c.MaxResponseBytes = defaults.Positive(c.MaxResponseBytes, DefaultMaxResponseBytes)
	c.Attempts = defaults.Positive(c.Attempts, DefaultAttempts)
	c.Backoff = defaults.Positive(c.Backoff, DefaultBackoff)
	return c
}

// parseBaseURL accepts only absolute http(s) URLs; a bad URL is a configuration mistake that
// retrying cannot fix, hence Permanent.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, engine.PermanentErrorf("engine URL %q is not a valid URL", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, engine.PermanentErrorf("engine URL %q must be an absolute http:// or https:// URL", raw)
	}
	if u.User != nil {
		return nil, engine.PermanentErrorf("engine URL must not carry credentials; use the admin token secret")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func newTransport(c Config) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxIdleConnsPerEngine
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in for labs
	if len(c.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CABundle) {
			// The bundle comes from the engine's spec.tls.caBundle, parsed here only.
			return nil, engine.PermanentErrorf("spec tls.caBundle holds no PEM certificate: paste the CA certificate(s) that signed the engine's certificate, in PEM form").
				WithReason(tokensv1.ReasonInvalidConfig)
		}
		tlsConf.RootCAs = pool
	}
	t.TLSClientConfig = tlsConf
	var rt http.RoundTripper = t
	if c.WrapTransport != nil {
		rt = c.WrapTransport(rt)
	}
	return rt, nil
}
