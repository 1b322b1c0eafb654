// Package influxdb2 is the engine adapter for InfluxDB 2.x (OSS) authorizations. Databases are
// buckets of one organization, resolved to their IDs before every mint; the engine-side name is
// the authorization's description, which v2 does not keep unique, so the adapter does
// (engine.DescribedTokens). Wire facts follow docs/engines/facts.md §2, which corrects the seed
// documents where they mislead (resource.name is ignored by the OSS server).
package influxdb2

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// API paths, from the InfluxDB 2.x OSS spec and docs/engines/facts.md §2.
const (
	// PathAuthorizations lists (GET) and creates (POST) authorizations.
	PathAuthorizations = "/api/v2/authorizations"
	// PathBuckets lists buckets, filtered by name and orgID.
	PathBuckets = "/api/v2/buckets"
	// PathOrgs lists organizations, filtered by name (org) or ID (orgID).
	PathOrgs = "/api/v2/orgs"
)

// ReasonOrganizationNotFound is the condition reason when the configured org does not exist.
const ReasonOrganizationNotFound = "OrganizationNotFound"

// Config is how to reach a 2.x server and as whom.
type Config struct {
	// Config holds the URL and TLS settings.
	httpapi.Config
	// Org is the organization's name or ID; buckets and authorizations belong to it.
	Org string
	// Token may create and delete authorizations in Org and must itself hold every permission it
	// grants (an operator or all-access token).
	Token engine.Plaintext
}

// Client is an engine.Engine for InfluxDB 2.x. Revoke, Lookup, List and Check come from
// engine.DescribedTokens over the org's authorizations.
type Client struct {
	*engine.DescribedTokens
	http  *httpapi.Client
	token engine.Plaintext
	org   string

	mu        sync.Mutex
	orgID     string     // resolved from org once it succeeds
	resolving sync.Mutex // one resolution at a time: a burst of first mints asks once
}

var _ engine.Engine = (*Client)(nil)

// New returns a Client for the server at cfg.URL.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, engine.UnauthorizedErrorf("the InfluxDB 2.x token is empty").WithReason(tokensv1.ReasonUnauthorized)
	}
	if cfg.Org == "" {
		return nil, engine.PermanentErrorf("the InfluxDB 2.x organization is empty")
	}
	hc, err := httpapi.New(cfg.Config)
	if err != nil {
		return nil, err
	}
	c := &Client{http: hc, token: cfg.Token, org: cfg.Org}
	c.DescribedTokens = engine.NewDescribedTokens(store{c})
	return c, nil
}

func (c *Client) do(ctx context.Context, r httpapi.Request) (*httpapi.Response, error) {
	r.Token, r.Scheme = c.token, httpapi.SchemeToken
	return c.http.Do(ctx, r)
}

// get sends a GET and decodes a 2xx JSON answer into out; other statuses become errors.
func (c *Client) get(ctx context.Context, what, path string, query url.Values, out any) (*httpapi.Response, error) {
	resp, err := c.do(ctx, httpapi.Request{Method: http.MethodGet, Path: path, Query: query})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return resp, apiError(resp, what)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return resp, resp.Unreadable(what, "a readable answer")
	}
	return resp, nil
}

// apiError maps a v2 error answer ({code, message}). v2 answers a conflict with 422, not 409.
// A 404 is never a token that is gone (revocation deletes by ID and handles its own 404): it
// means the URL is not an InfluxDB 2.x API, so it is Permanent.
func apiError(resp *httpapi.Response, what string) *engine.Error {
	switch resp.Status {
	case http.StatusUnprocessableEntity:
		return resp.Errorf(engine.Conflict, "%s", what)
	case http.StatusNotFound:
		return resp.Errorf(engine.Permanent, "%s: not found (is url the address of an InfluxDB 2.x server?)", what)
	}
	return resp.DefaultError(what)
}

// hexID matches a v2 resource ID: 16 hex characters.
var hexID = regexp.MustCompile(`^[0-9a-f]{16}$`)

type organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// resolveOrg returns the org's ID: the org is looked up by name and, when it looks like an ID
// and no org has that name, by ID. The answer is kept once found.
func (c *Client) resolveOrg(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.orgID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	c.resolving.Lock()
	defer c.resolving.Unlock()
	c.mu.Lock()
	id = c.orgID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	what := "resolving organization " + strconv.Quote(c.org)
	lookups := []url.Values{{"org": {c.org}}}
	if hexID.MatchString(c.org) {
		lookups = append(lookups, url.Values{"orgID": {c.org}})
	}
	for _, q := range lookups {
		var body struct {
			Orgs []organization `json:"orgs"`
		}
		resp, err := c.get(ctx, what, PathOrgs, q, &body)
		if err != nil && (resp == nil || resp.Status != http.StatusNotFound) {
			return "", err
		}
		for _, o := range body.Orgs {
			if o.Name == c.org || o.ID == c.org {
				c.mu.Lock()
				c.orgID = o.ID
				c.mu.Unlock()
				return o.ID, nil
			}
		}
	}
	return "", engine.PermanentErrorf("%s: no organization of that name or ID is visible to the token", what).WithReason(ReasonOrganizationNotFound)
}
