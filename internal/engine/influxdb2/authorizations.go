package influxdb2

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// authorizations lists the org's authorizations whose description passes keep.
func (c *Client) authorizations(ctx context.Context, what string, keep func(string) bool) ([]engine.TokenInfo, error) {
	orgID, err := c.resolveOrg(ctx)
	if err != nil {
		return nil, err
	}
	var body struct {
		Authorizations []authorization `json:"authorizations"`
	}
	if _, err := c.get(ctx, what, PathAuthorizations, url.Values{"orgID": {orgID}}, &body); err != nil {
		return nil, err
	}
	infos := []engine.TokenInfo{}
	for _, a := range body.Authorizations {
		if keep(a.Description) {
			infos = append(infos, a.info())
		}
	}
	return infos, nil
}

// store is the engine.DescribedStore over authorizations.
type store struct{ c *Client }

// Described lists the authorizations described name, active or not.
func (s store) Described(ctx context.Context, name string) ([]engine.TokenInfo, error) {
	return s.c.authorizations(ctx, "looking up token "+quote(name), func(d string) bool { return d == name })
}

// Delete deletes an authorization by ID; one that is gone is success.
func (s store) Delete(ctx context.Context, id string) error {
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodDelete, Path: PathAuthorizations + "/" + url.PathEscape(id)})
	switch {
	case err != nil:
		return err
	case resp.OK(), resp.Status == http.StatusNotFound:
		return nil
	default:
		return apiError(resp, "deleting authorization "+id)
	}
}

// Revoke deletes every authorization described name.
func (c *Client) Revoke(ctx context.Context, name string) error { return c.names.Revoke(ctx, name) }

// Lookup returns the authorization described name.
func (c *Client) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	return c.names.Lookup(ctx, name)
}

// List returns the authorizations whose description starts with prefix.
func (c *Client) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	return c.authorizations(ctx, "listing tokens with prefix "+quote(prefix), func(d string) bool { return strings.HasPrefix(d, prefix) })
}

// Check resolves the organization and lists its authorizations: the server is reachable and the
// token may read authorizations (401/403 are Unauthorized).
func (c *Client) Check(ctx context.Context) error {
	_, err := c.authorizations(ctx, "checking the engine", func(string) bool { return false })
	return err
}
