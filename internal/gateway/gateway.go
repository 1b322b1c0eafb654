// Package gateway is the authorizing reverse proxy (`token-operator gateway`): it sits in front of
// InfluxDB, maps each request with internal/influxaccess (seeing the whole request, body
// included, so it needs no gateway headers), asks the token engine whether the presented token
// grants what the request needs (POST /api/v3/authorize/check, answers cached briefly), and
// forwards allowed requests with the upstream token instead of the client's credentials.
package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenops/token-operator/internal/httpstatus"
	"github.com/tokenops/token-operator/internal/influxaccess"
)

// Defaults of Config.
const (
	// DefaultMaxQueryBody caps the body of a POST query, which the proxy reads to map it.
	DefaultMaxQueryBody = 1 << 20
	// DefaultCacheTTL is how long an engine answer is reused: the bound on how late a revocation
	// or a new token takes effect.
	DefaultCacheTTL = 2 * time.Second
	// DefaultCacheSize bounds the number of cached answers.
	DefaultCacheSize = 10_000
	// DefaultEngineTimeout bounds one authorize call to the engine: a slow engine fails the
	// request (502) rather than holding it.
	DefaultEngineTimeout = 5 * time.Second
)

// NewEngineClient returns an engine client that trusts only the CA certificates in caPEM, for an
// engine served over HTTPS with its own CA (the chart's engine.store=kubernetes or engine.tls).
func NewEngineClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no PEM certificate in the engine CA bundle")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: DefaultEngineTimeout, Transport: t}, nil
}

// pathCheck is the engine's authorize path for callers that mapped the request themselves.
const pathCheck = "/api/v3/authorize/check"

// Config configures a Proxy.
type Config struct {
	// Upstream is InfluxDB's base URL.
	Upstream *url.URL
	// UpstreamToken replaces the client's credentials on every forwarded request.
	UpstreamToken string
	// EngineURL is the token engine's base URL.
	EngineURL string
	// EngineClient calls the engine; nil means a client with a 5 s timeout.
	EngineClient *http.Client
	// MaxQueryBody caps the body of POST queries (DefaultMaxQueryBody when 0).
	MaxQueryBody int64
	// CacheTTL is how long an engine answer is reused (DefaultCacheTTL when 0, none when < 0).
	CacheTTL time.Duration
	// CacheSize bounds the answers kept (DefaultCacheSize when 0).
	CacheSize int
	// Logger gets one line per request (method, path, status, duration); nil discards.
	Logger *slog.Logger
}

// Proxy is the authorizing reverse proxy; it is an http.Handler.
type Proxy struct {
	cfg    Config
	engine *http.Client
	cache  *answerCache
	rp     *httputil.ReverseProxy
	log    *slog.Logger
}

// New checks cfg and returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Upstream == nil || cfg.Upstream.Host == "" || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https"):
		return nil, errors.New("the upstream must be an http or https URL")
	case cfg.UpstreamToken == "" || strings.ContainsAny(cfg.UpstreamToken, " \r\n\t"):
		return nil, errors.New("the upstream token must be one non-empty word")
	case !strings.HasPrefix(cfg.EngineURL, "http://") && !strings.HasPrefix(cfg.EngineURL, "https://"):
		return nil, errors.New("the engine URL must be an http or https URL")
	}
	if cfg.MaxQueryBody == 0 {
		cfg.MaxQueryBody = DefaultMaxQueryBody
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.EngineClient == nil {
		cfg.EngineClient = &http.Client{Timeout: DefaultEngineTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.EngineURL = strings.TrimSuffix(cfg.EngineURL, "/")
	p := &Proxy{cfg: cfg, engine: cfg.EngineClient, cache: newAnswerCache(cfg.CacheTTL, cfg.CacheSize), log: cfg.Logger}
	p.rp = &httputil.ReverseProxy{Rewrite: p.rewrite, ErrorHandler: p.upstreamError}
	return p, nil
}

// ServeHTTP authorizes r and forwards it, or answers 400/401/403/413 with a JSON error that
// never quotes the request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &httpstatus.Writer{ResponseWriter: w}
	p.serve(sw, r)
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "Proxied request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", sw.Code), slog.Duration("duration", time.Since(start)))
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	req := influxaccess.Request{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type")}
	if influxaccess.NeedsBody(r.Method, req.Path) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxQueryBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "the query body is larger than the gateway's cap of "+strconv.FormatInt(p.cfg.MaxQueryBody, 10)+" bytes")
			return
		}
		req.Body, req.BodyKnown = b, true
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	need, err := influxaccess.Map(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	tok, err := influxaccess.Credential(req, r.Header.Values("Authorization"))
	switch {
	case errors.Is(err, influxaccess.ErrNoCredential):
		writeError(w, http.StatusUnauthorized, "the request was not authenticated")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a := p.authorize(r, tok, need)
	if a.code != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		_, _ = w.Write(a.body)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite sends the request to the upstream with the upstream token: the client's Authorization
// header and its ?p= and ?u= are dropped (hop-by-hop headers are removed by ReverseProxy).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Upstream)
	pr.Out.URL.RawQuery = withoutCredentials(pr.In.URL.RawQuery)
	pr.Out.Header.Del("Proxy-Authorization")
	pr.Out.Header.Set("Authorization", "Token "+p.cfg.UpstreamToken)
}

// withoutCredentials drops the p and u pairs of a query string and keeps the rest as sent.
func withoutCredentials(raw string) string {
	var kept []string
	for pair := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err == nil && (k == "p" || k == "u") {
			continue
		}
		if pair != "" {
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "&")
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "Failed to reach the upstream", slog.String("path", r.URL.Path), slog.String("err", err.Error()))
	writeError(w, http.StatusBadGateway, "the gateway could not reach InfluxDB")
}

// writeError sends {"error": msg}, InfluxDB 3's error shape.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
