// Package influxdb1 is the engine adapter for InfluxDB 1.x, where a token is a user: the
// engine-side name is the username, the password is random, and the token's permissions are
// GRANTs on databases. Wire facts follow docs/engines/facts.md §4.
package influxdb1

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// PathQuery is where every InfluxQL statement is sent, with POST (GET runs write statements
// too, but with a deprecation warning).
const PathQuery = "/query"

// Config is how to reach a 1.x server and as whom.
type Config struct {
	// Config holds the URL and TLS settings.
	httpapi.Config
	// Username and Password are an admin user's credentials (GRANT, CREATE and DROP USER need admin).
	Username string
	Password engine.Plaintext
}

// Client is an engine.Engine for InfluxDB 1.x.
type Client struct {
	http *httpapi.Client
	user string
	pass engine.Plaintext
}

var _ engine.Engine = (*Client)(nil)

// New returns a Client for the server at cfg.URL.
func New(cfg Config) (*Client, error) {
	if cfg.Username == "" || cfg.Password == "" {
		return nil, engine.UnauthorizedErrorf("the admin username or password is empty").WithReason(tokensv1.ReasonUnauthorized)
	}
	hc, err := httpapi.New(cfg.Config)
	if err != nil {
		return nil, err
	}
	return &Client{http: hc, user: cfg.Username, pass: cfg.Password}, nil
}

// result is one statement's outcome in a /query answer.
type result struct {
	Error  string   `json:"error"`
	Series []series `json:"series"`
}

type series struct {
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values"`
}

// query is a batch of statements sent in one request.
type query struct {
	what       string
	statements []string
	// idempotent lets the HTTP client retry the call (SHOW, DROP USER).
	idempotent bool
	// secrets are removed from error messages, besides the admin password (a new user's password).
	secrets []string
}

// run sends q and returns one result per statement. Statement failures come back as HTTP 200
// with results[].error (docs/engines/facts.md §4) and are left to the caller; the server stops at the first
// failing statement, so later results may be missing.
func (c *Client) run(ctx context.Context, q query) ([]result, error) {
	resp, err := c.http.Do(ctx, httpapi.Request{
		Method:     http.MethodPost,
		Path:       PathQuery,
		Form:       map[string][]string{"q": {strings.Join(q.statements, "; ")}},
		Token:      c.pass,
		Scheme:     httpapi.SchemeBasic,
		Username:   c.user,
		Idempotent: q.idempotent,
	})
	if err != nil {
		return nil, err
	}
	switch {
	case resp.Status == http.StatusNotFound:
		// Never a token that is gone: the URL is not an InfluxDB 1.x API.
		return nil, redact(resp.Errorf(engine.Permanent, "%s: no /query endpoint (is url the address of an InfluxDB 1.x server?)", q.what), q.secrets)
	case !resp.OK():
		return nil, redact(resp.DefaultError(q.what), q.secrets)
	}
	var body struct {
		Results []result `json:"results"`
		Error   string   `json:"error"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, resp.Unreadable(q.what, "a readable answer")
	}
	if body.Error != "" {
		return nil, redact(resp.Errorf(engine.Permanent, "%s: the server refused the query", q.what), q.secrets)
	}
	return body.Results, nil
}

// statementError is the first statement error in results, or "".
func statementError(results []result) string {
	for _, r := range results {
		if r.Error != "" {
			return r.Error
		}
	}
	return ""
}

// failed returns the error for a statement failure the caller does not handle itself.
func failed(what, msg string, secrets []string) error {
	return engine.Errorf("%s: %s", what, httpapi.Redact(msg, secrets...))
}

func redact(e *engine.Error, secrets []string) *engine.Error {
	e.Message = httpapi.Redact(e.Message, secrets...)
	return e
}
