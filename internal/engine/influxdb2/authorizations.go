package influxdb2

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// store is the engine.DescribedStore over the org's authorizations.
type store struct{ c *Client }

// Tokens lists the org's authorizations, active or not, whose description passes keep.
func (s store) Tokens(ctx context.Context, what string, keep func(string) bool) ([]engine.TokenInfo, error) {
	orgID, err := s.c.resolveOrg(ctx)
	if err != nil {
		return nil, err
	}
	var body struct {
		Authorizations []authorization `json:"authorizations"`
	}
	if _, err := s.c.get(ctx, what, PathAuthorizations, url.Values{"orgID": {orgID}}, &body); err != nil {
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

// Delete deletes an authorization by ID; one that is gone is success.
func (s store) Delete(ctx context.Context, id string) error {
	resp, err := s.c.do(ctx, httpapi.Request{Method: http.MethodDelete, Path: PathAuthorizations + "/" + url.PathEscape(id)})
	return httpapi.Deleted(resp, err, "deleting authorization "+id)
}

// Get reads one authorization by ID. A 404 is "not live"; DescribedTokens confirms it with a
// listing before anyone hears NotFound, so a wrong URL still surfaces as the listing's
// Permanent error (TestListing404IsNotATokenGone).
func (s store) Get(ctx context.Context, id string) (engine.TokenInfo, bool, error) {
	var a authorization
	resp, err := s.c.get(ctx, "reading authorization "+id, PathAuthorizations+"/"+url.PathEscape(id), nil, &a)
	switch {
	case resp != nil && resp.Status == http.StatusNotFound:
		return engine.TokenInfo{}, false, nil
	case err != nil:
		return engine.TokenInfo{}, false, err
	}
	return a.info(), true, nil
}
