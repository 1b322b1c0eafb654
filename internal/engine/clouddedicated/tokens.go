package clouddedicated

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// store is the engine.DescribedStore over the cluster's database tokens.
type store struct{ c *Client }

// Described lists the live (not revoked) tokens described name.
func (s store) Described(ctx context.Context, name string) ([]engine.TokenInfo, error) {
	return s.c.live(ctx, "looking up token "+quote(name), func(d string) bool { return d == name })
}

// Delete revokes a token by ID; revocation is immediate. A token that is gone is success.
func (s store) Delete(ctx context.Context, id string) error {
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodDelete, Path: s.c.tokens + "/" + url.PathEscape(id)})
	switch {
	case err != nil:
		return err
	case resp.OK(), resp.Status == http.StatusNotFound:
		return nil
	default:
		return resp.DefaultError("deleting token " + id)
	}
}

// Revoke deletes every live token described name.
func (c *Client) Revoke(ctx context.Context, name string) error { return c.names.Revoke(ctx, name) }

// Lookup returns the live token described name.
func (c *Client) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	return c.names.Lookup(ctx, name)
}

// List returns the live tokens whose description starts with prefix.
func (c *Client) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	return c.live(ctx, "listing tokens with prefix "+quote(prefix), func(d string) bool { return strings.HasPrefix(d, prefix) })
}

// Check lists the cluster's tokens: the API is reachable, the account and cluster exist and the
// management token may read tokens.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.live(ctx, "checking the engine", func(string) bool { return false })
	return err
}
