// Package clouddedicated is the engine adapter for InfluxDB Cloud Dedicated database tokens,
// through the Management API. The engine-side name is the token's description, which the API
// does not promise to keep unique, so the adapter does (engine.DescribedTokens). Wire facts
// follow docs/engines/facts.md §3.
package clouddedicated

import (
	"context"
	"net/http"
	"net/url"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// DefaultURL is the public Management API.
const DefaultURL = "https://console.influxdata.com/api/v0"

// ReasonClusterNotFound is the condition reason when the Management API does not know the
// account or cluster.
const ReasonClusterNotFound = "ClusterNotFound"

// ActivationNotice goes into the status message after a mint (Minted.Notice).
const ActivationNotice = "Cloud Dedicated can take from a few seconds to a few minutes to activate a new database token; until then writes and queries with it get HTTP 401, so clients should retry"

// Config is how to reach the Management API and which cluster's tokens to manage.
type Config struct {
	// Config holds the Management API URL (DefaultURL when empty) and TLS settings.
	httpapi.Config
	// AccountID and ClusterID are the UUIDs of the account and cluster.
	AccountID string
	ClusterID string
	// ManagementToken is a management token (influxctl management create), sent as Bearer.
	ManagementToken engine.Plaintext
}

// Client is an engine.Engine for Cloud Dedicated. Revoke, Lookup, List and Check come from
// engine.DescribedTokens over the cluster's database tokens.
type Client struct {
	*engine.DescribedTokens
	http  *httpapi.Client
	token engine.Plaintext
	// tokens is the path of the cluster's database tokens.
	tokens string
}

var _ engine.Engine = (*Client)(nil)

// New returns a Client for the cluster.
func New(cfg Config) (*Client, error) {
	if cfg.ManagementToken == "" {
		return nil, engine.UnauthorizedErrorf("the Cloud Dedicated management token is empty").WithReason(tokensv1.ReasonUnauthorized)
	}
	if cfg.AccountID == "" || cfg.ClusterID == "" {
		return nil, engine.PermanentErrorf("the Cloud Dedicated account ID and cluster ID are both required")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	hc, err := httpapi.New(cfg.Config)
	if err != nil {
		return nil, err
	}
	c := &Client{
		http:   hc,
		token:  cfg.ManagementToken,
		tokens: "/accounts/" + url.PathEscape(cfg.AccountID) + "/clusters/" + url.PathEscape(cfg.ClusterID) + "/tokens",
	}
	c.DescribedTokens = engine.NewDescribedTokens(store{c})
	return c, nil
}

func (c *Client) do(ctx context.Context, r httpapi.Request) (*httpapi.Response, error) {
	r.Token = c.token
	return c.http.Do(ctx, r)
}

// apiError maps a Management API error answer ({code, message}). 404 on the tokens collection
// means the account or cluster is unknown: never a token that is gone.
func apiError(resp *httpapi.Response, what string) *engine.Error {
	if resp.Status == http.StatusNotFound {
		return resp.Errorf(engine.Permanent, "%s: the Management API does not know the account or cluster", what).WithReason(ReasonClusterNotFound)
	}
	return resp.DefaultError(what)
}

// token is a database token as the Management API returns it; AccessToken is set only in the
// create answer.
type token struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	AccessToken string            `json:"accessToken"`
	CreatedAt   httpapi.Timestamp `json:"createdAt"`
	ExpiresAt   httpapi.Timestamp `json:"expiresAt"`
	RevokedAt   httpapi.Timestamp `json:"revokedAt"`
}

func (t token) info() engine.TokenInfo {
	return engine.TokenInfo{Name: t.Description, ID: t.ID, CreatedAt: t.CreatedAt.Time, ExpiresAt: t.ExpiresAt.Ptr()}
}
