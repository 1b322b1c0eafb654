package clouddedicated

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// store is the engine.DescribedStore over the cluster's database tokens.
type store struct{ c *Client }

// Tokens lists the cluster's tokens that are not revoked and whose description passes keep.
func (s store) Tokens(ctx context.Context, what string, keep func(string) bool) ([]engine.TokenInfo, error) {
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodGet, Path: s.c.tokens})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, apiError(resp, what)
	}
	var all []token
	if err := json.Unmarshal(resp.Body, &all); err != nil {
		return nil, resp.Unreadable(what, "a readable token listing")
	}
	infos := []engine.TokenInfo{}
	for _, t := range all {
		if t.RevokedAt.IsZero() && keep(t.Description) {
			infos = append(infos, t.info())
		}
	}
	return infos, nil
}

// Delete revokes a token by ID; revocation is immediate. A token that is gone is success.
func (s store) Delete(ctx context.Context, id string) error {
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodDelete, Path: s.c.tokens + "/" + url.PathEscape(id)})
	return httpapi.Deleted(resp, err, "deleting token "+id)
}
