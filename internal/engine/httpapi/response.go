package httpapi

import (
	"fmt"
	"net/http"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// MaxBodyInMessage is how much of a response body an error message quotes.
const MaxBodyInMessage = 256

// Response is an engine's answer with its body fully read (up to the configured cap).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	op     string
	token  engine.Plaintext
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Describe says what the engine answered, for error messages: the method, path, status and the
// start of the body with credentials removed. It never includes request headers.
func (r *Response) Describe() string {
	s := fmt.Sprintf("%s: HTTP %d", r.op, r.Status)
	if body := Excerpt(r.Body, r.token.Reveal()); body != "" {
		s += ": " + body
	}
	return s
}

// Errorf returns an engine error of kind k whose message is the formatted text followed by
// Describe().
func (r *Response) Errorf(k engine.Kind, format string, args ...any) *engine.Error {
	msg := fmt.Sprintf(format, args...)
	return &engine.Error{Kind: k, Message: msg + ": " + r.Describe()}
}

// Unreadable is the Transient error for a success answer that lacks what the caller needs.
// Unlike error answers, its body is never quoted: success bodies (create answers, token
// listings) can hold credentials.
func (r *Response) Unreadable(what, wanted string) *engine.Error {
	return engine.Errorf("%s: %s answered HTTP %d without %s", what, r.op, r.Status, wanted)
}

// DefaultError maps the status the way most HTTP engines mean it: 401/403 Unauthorized,
// 404 NotFound, 409 Conflict, 429 and 5xx Transient, other 4xx Permanent, and anything else
// (1xx, 3xx: a proxy or a misconfigured URL) Transient. Adapters handle their special cases first.
func (r *Response) DefaultError(what string) *engine.Error {
	switch {
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		e := r.Errorf(engine.Unauthorized, "%s: the engine refused the admin credentials", what)
		return e.WithReason(tokensv1.ReasonUnauthorized)
	case r.Status == http.StatusNotFound:
		return r.Errorf(engine.NotFound, "%s", what)
	case r.Status == http.StatusConflict:
		return r.Errorf(engine.Conflict, "%s", what)
	case r.Status == http.StatusTooManyRequests || r.Status >= 500:
		return r.Errorf(engine.Transient, "%s", what)
	case r.Status >= 400:
		return r.Errorf(engine.Permanent, "%s: the engine rejected the request", what)
	default:
		return r.Errorf(engine.Transient, "%s: unexpected answer", what)
	}
}

// Deleted maps the outcome of a DELETE: success and 404 (already gone) are nil, so that
// revocation is idempotent; other answers are DefaultError.
func Deleted(resp *Response, err error, what string) error {
	switch {
	case err != nil:
		return err
	case resp.OK(), resp.Status == http.StatusNotFound:
		return nil
	default:
		return resp.DefaultError(what)
	}
}
