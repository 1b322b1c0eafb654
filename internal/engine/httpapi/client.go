package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// Client sends requests to one engine. It is safe for concurrent use.
type Client struct {
	base *url.URL
	http *http.Client
	cfg  Config
}

// New builds a Client from cfg. A malformed URL or CA bundle is a Permanent error.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	rt, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	// Timeouts come from the per-attempt context, not http.Client.Timeout, so that a caller's
	// deadline and ours compose; redirects are not followed because they would resend the
	// Authorization header to wherever the engine points.
	hc := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &Client{base: base, http: hc, cfg: cfg}, nil
}

// BaseURL returns the engine's base URL as configured.
func (c *Client) BaseURL() string { return c.base.String() }

// Request is one call to the engine.
type Request struct {
	Method string
	// Path is appended to the base URL's path, e.g. /api/v3/configure/token.
	Path  string
	Query url.Values
	// Body, when not nil, is sent as JSON.
	Body any
	// Form, when not nil, is sent as an application/x-www-form-urlencoded body (InfluxDB 1.x
	// /query). Set Body or Form, not both.
	Form url.Values
	// Token is sent in the Authorization header with Scheme and scrubbed from every error message.
	Token engine.Plaintext
	// Scheme is how Token is sent: SchemeBearer when empty, SchemeToken (InfluxDB 2.x) or
	// SchemeBasic, which sends HTTP Basic authentication with Username and Token as the password.
	Scheme string
	// Username is the HTTP Basic user name, for SchemeBasic.
	Username string
	// Idempotent allows retries of a call whose method is not idempotent but whose effect is,
	// e.g. an InfluxQL SHOW or DROP USER sent with POST.
	Idempotent bool
}

// Authorization schemes for Request.Scheme.
const (
	// SchemeBearer sends "Authorization: Bearer <token>" (InfluxDB 3, Cloud Dedicated).
	SchemeBearer = "Bearer"
	// SchemeToken sends "Authorization: Token <token>" (InfluxDB 2.x; the spec's case-sensitive word).
	SchemeToken = "Token"
	// SchemeBasic sends HTTP Basic authentication (InfluxDB 1.x users).
	SchemeBasic = "Basic"
)

// idempotent reports whether a lost response can be retried without side effects. POST never is
// unless marked: a mint whose response was lost is recovered by the Conflict path (docs/design.md §3),
// not by resending.
func (r Request) idempotent() bool {
	if r.Idempotent {
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		return true
	}
	return false
}

// Do sends r, retrying idempotent calls on network errors, 429 and 5xx with exponential backoff.
// It returns the last Response whatever its status, leaving its meaning to the adapter (which
// can fall back on Response.DefaultError); only network errors, timeouts and oversized bodies
// are returned as errors, all Transient.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	var body []byte
	switch {
	case r.Body != nil:
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, engine.PermanentErrorf("%s %s: encoding request: %v", r.Method, r.Path, err)
		}
	case r.Form != nil:
		body = []byte(r.Form.Encode())
	}
	attempts := 1
	if r.idempotent() {
		attempts = c.cfg.Attempts
	}
	wait := c.cfg.Backoff
	var (
		resp *Response
		err  error
	)
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if sleep(ctx, jitter(wait)) != nil {
				break
			}
			wait *= 2
		}
		resp, err = c.attempt(ctx, r, body)
		if err == nil && !retryableStatus(resp.Status) {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	return resp, err
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

func (c *Client) attempt(parent context.Context, r Request, body []byte) (*Response, error) {
	ctx, cancel := context.WithTimeout(parent, c.cfg.Timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + r.Path
	u.RawQuery = r.Query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), rd)
	if err != nil {
		return nil, engine.PermanentErrorf("%s %s: building request: %v", r.Method, r.Path, err)
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case r.Form != nil && r.Body == nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	r.authorize(req)
	op := r.Method + " " + r.Path
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.networkError(parent, op, err, r.Token)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, c.networkError(parent, op, err, r.Token)
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, engine.Errorf("%s: response body exceeds %d bytes", op, c.cfg.MaxResponseBytes)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, op: op, token: r.Token}, nil
}

// authorize sets the Authorization header for r's credentials, if any.
func (r Request) authorize(req *http.Request) {
	switch {
	case r.Token == "":
	case r.Scheme == SchemeBasic:
		req.SetBasicAuth(r.Username, r.Token.Reveal())
	case r.Scheme == "":
		req.Header.Set("Authorization", SchemeBearer+" "+r.Token.Reveal())
	default:
		req.Header.Set("Authorization", r.Scheme+" "+r.Token.Reveal())
	}
}

// networkError is Transient and names the cause without the URL, which can be long (SQL) and
// is already implied by op. The cause is kept only as redacted text, never as a wrapped error
// whose message could change under us.
func (c *Client) networkError(parent context.Context, op string, err error, token engine.Plaintext) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := "engine unreachable"
	switch {
	case parent.Err() != nil:
		msg = "call abandoned by the caller"
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("engine did not answer within %s", c.cfg.Timeout)
	}
	return &engine.Error{
		Kind:    engine.Transient,
		Reason:  tokensv1.ReasonUnreachable,
		Message: fmt.Sprintf("%s: %s: %s", op, msg, Redact(err.Error(), token.Reveal())),
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter spreads retries of many reconcilers over ±20% of d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
