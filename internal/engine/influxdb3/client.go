// Package influxdb3 is the engine adapter for the InfluxDB 3 token API: InfluxDB 3 Enterprise
// resource tokens and our in-cluster token engine, which speaks the same API (docs/design.md §5).
// Wire facts follow docs/engines/facts.md §1, which corrects the official spec and docs where they
// disagree with the server.
package influxdb3

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// API paths, from the Enterprise spec and docs/engines/facts.md §1.
const (
	// PathCreateToken creates a resource token (Enterprise only; Core answers 404).
	PathCreateToken = "/api/v3/enterprise/configure/token"
	// PathDeleteToken deletes a token named by the token_name query parameter.
	PathDeleteToken = "/api/v3/configure/token"
	// PathQuerySQL runs SQL; the token listing lives in system.tokens of database _internal.
	PathQuerySQL = "/api/v3/query_sql"
	// InternalDatabase is the database that holds the system.tokens table.
	InternalDatabase = "_internal"
)

// Client is an engine.Engine for InfluxDB 3 Enterprise and the in-cluster token engine.
type Client struct {
	http  *httpapi.Client
	admin engine.Plaintext

	mu    sync.Mutex
	field string // the permission field this engine accepted last; "" until one did
}

// permissionField is the resource list's field name to send: the spec's until the engine
// accepted the other.
func (c *Client) permissionField() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.field == "" {
		return FieldResourceNames
	}
	return c.field
}

func (c *Client) setPermissionField(f string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.field = f
}

var _ engine.Engine = (*Client)(nil)

// New returns a Client for the engine at cfg.URL using the admin token the caller read from a
// Kubernetes Secret.
func New(cfg httpapi.Config, adminToken engine.Plaintext) (*Client, error) {
	if adminToken == "" {
		return nil, engine.UnauthorizedErrorf("the admin token is empty").WithReason(tokensv1.ReasonUnauthorized)
	}
	hc, err := httpapi.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{http: hc, admin: adminToken}, nil
}

func (c *Client) do(ctx context.Context, r httpapi.Request) (*httpapi.Response, error) {
	r.Token = c.admin
	return c.http.Do(ctx, r)
}

// Revoke deletes the token named name (names are unique on InfluxDB 3, and its delete takes the
// name, so the recorded id is not needed). A token that does not exist is success, as the
// interface requires; the server answers 404 for it.
func (c *Client) Revoke(ctx context.Context, name, _ string) error {
	resp, err := c.do(ctx, httpapi.Request{
		Method: http.MethodDelete,
		Path:   PathDeleteToken,
		Query:  map[string][]string{"token_name": {name}},
	})
	if err == nil && resp.Status == http.StatusMethodNotAllowed {
		// 405 "cannot delete operator token" (_admin), or a server started --without-auth.
		return resp.Errorf(engine.Permanent, "revoking token %q: the engine does not allow it", name)
	}
	return httpapi.Deleted(resp, err, "revoking token "+strconv.Quote(name))
}
