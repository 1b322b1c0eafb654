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

// Get reads one token by ID: a revoked token, or a 404, is "not live"; DescribedTokens confirms
// that with a listing before anyone hears NotFound, so an unknown cluster still surfaces as the
// listing's Permanent ClusterNotFound.
func (s store) Get(ctx context.Context, id string) (engine.TokenInfo, bool, error) {
	what := "reading token " + id
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodGet, Path: s.c.tokens + "/" + url.PathEscape(id)})
	switch {
	case err != nil:
		return engine.TokenInfo{}, false, err
	case resp.Status == http.StatusNotFound:
		return engine.TokenInfo{}, false, nil
	case !resp.OK():
		return engine.TokenInfo{}, false, apiError(resp, what)
	}
	var t token
	if err := json.Unmarshal(resp.Body, &t); err != nil || t.ID == "" {
		return engine.TokenInfo{}, false, resp.Unreadable(what, "a readable token")
	}
	return t.info(), t.RevokedAt.IsZero(), nil
}
