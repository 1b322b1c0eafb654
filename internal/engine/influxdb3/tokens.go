package influxdb3

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// tokenRow is one row of system.tokens as query_sql returns it with format=json: an object per
// row whose null columns may be absent.
type tokenRow struct {
	TokenID   flexID    `json:"token_id"`
	Name      string    `json:"name"`
	CreatedAt timestamp `json:"created_at"`
	Expiry    timestamp `json:"expiry"`
}

func (r tokenRow) info() engine.TokenInfo {
	return engine.TokenInfo{Name: r.Name, ID: string(r.TokenID), CreatedAt: r.CreatedAt.t, ExpiresAt: r.Expiry.ptr()}
}

// queryTokens runs one system.tokens query. It uses GET with the query in the URL, as the
// server and the CLI do. Deviation from the spec: the Enterprise spec marks a request body as
// required on GET /api/v3/query_sql (a copy of the POST operation); the server reads only the
// query parameters on GET, and the spec's QueryResponse schema ({results: [...]}) is not what
// format=json returns (an array of row objects).
func (c *Client) queryTokens(ctx context.Context, what, sql string) ([]tokenRow, error) {
	resp, err := c.do(ctx, httpapi.Request{
		Method: http.MethodGet,
		Path:   PathQuerySQL,
		Query:  map[string][]string{"db": {InternalDatabase}, "q": {sql}, "format": {"json"}},
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		if resp.Status == http.StatusNotFound {
			// No _internal database: not a token that is gone, so never NotFound.
			return nil, resp.Errorf(engine.Permanent, "%s: the engine has no %s database (started without auth?)", what, InternalDatabase)
		}
		return nil, resp.DefaultError(what)
	}
	var rows []tokenRow
	if body := strings.TrimSpace(string(resp.Body)); body != "" {
		if err := json.Unmarshal(resp.Body, &rows); err != nil {
			return nil, resp.Unreadable(what, "a readable token listing")
		}
	}
	return rows, nil
}

// Lookup returns the metadata of the token named name.
func (c *Client) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	what := "looking up token " + strconv.Quote(name)
	rows, err := c.queryTokens(ctx, what, lookupQuery(name))
	if err != nil {
		return engine.TokenInfo{}, err
	}
	for _, r := range rows {
		if r.Name == name {
			return r.info(), nil
		}
	}
	return engine.TokenInfo{}, engine.NotFoundErrorf("%s: no such token", what)
}

// List returns every token whose name starts with prefix, filtered exactly on our side.
func (c *Client) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	rows, err := c.queryTokens(ctx, "listing tokens with prefix "+strconv.Quote(prefix), listQuery(prefix))
	if err != nil {
		return nil, err
	}
	infos := make([]engine.TokenInfo, 0, len(rows))
	for _, r := range rows {
		if strings.HasPrefix(r.Name, prefix) {
			infos = append(infos, r.info())
		}
	}
	return infos, nil
}

// checkName cannot be a token name the operator creates (docs/design.md §3 names start with "k8s.") and
// is refused by Validate, so Check's lookup never finds anything.
const checkName = ""

// Check runs an authenticated query that reads system.tokens: it proves the engine is reachable
// and that the admin token may list tokens (401/403 are Unauthorized).
func (c *Client) Check(ctx context.Context) error {
	_, err := c.queryTokens(ctx, "checking the engine", lookupQuery(checkName))
	return err
}
