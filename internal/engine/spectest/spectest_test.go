package spectest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/spectest"
)

func exchange(t *testing.T, method, rawURL, body string, resp *httpapi.RecordedResponse) httpapi.RecordedRequest {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.RecordedRequest{Method: method, URL: u, Body: []byte(body), Response: resp,
		Header: http.Header{"Authorization": {"Token x"}, "Content-Type": {"application/json"}}}
}

func jsonResponse(status int, body string) *httpapi.RecordedResponse {
	return &httpapi.RecordedResponse{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

// TestRejects makes sure the conformance checks can fail, on requests and on answers.
func TestRejects(t *testing.T) {
	v2 := spectest.Load(t, "influxdb2-oss.yml", spectest.Options{Scheme: httpapi.SchemeToken, Responses: true})
	cd := spectest.Load(t, "cloud-dedicated-management.yml", spectest.Options{StripPrefix: "/api/v0", Responses: true})
	const tokens = "http://h/api/v0/accounts/11111111-1111-4111-8111-111111111111/clusters/33333333-3333-4333-8333-333333333333/tokens"
	const created = `{"accountId":"11111111-1111-4111-8111-111111111111","clusterId":"33333333-3333-4333-8333-333333333333","id":"55555555-5555-4555-8555-555555555555","description":"d","permissions":[],"createdAt":"2026-01-02T03:04:05.000Z","accessToken":"apiv1_5555555555555555555555555555555555555555555555555555555555555555"}`
	for name, tc := range map[string]struct {
		spec *spectest.Spec
		rec  httpapi.RecordedRequest
	}{
		"v2 authorization without orgID": {v2, exchange(t, http.MethodPost, "http://h/api/v2/authorizations", `{"permissions":[{"action":"read","resource":{"type":"buckets"}}]}`, nil)},
		"v2 unknown resource type":       {v2, exchange(t, http.MethodPost, "http://h/api/v2/authorizations", `{"orgID":"o","permissions":[{"action":"read","resource":{"type":"databases"}}]}`, nil)},
		"v2 authorization with no permissions in the answer": {v2, exchange(t, http.MethodGet, "http://h/api/v2/authorizations", "",
			jsonResponse(200, `{"links":{"self":"/api/v2/authorizations"},"authorizations":[{"id":"a","permissions":null}]}`))},
		"v2 Bearer instead of Token": {v2, func() httpapi.RecordedRequest {
			r := exchange(t, http.MethodGet, "http://h/api/v2/authorizations", "", nil)
			r.Header.Set("Authorization", "Bearer x")
			return r
		}()},
		"CD token without description": {cd, exchange(t, http.MethodPost, tokens, `{"permissions":[]}`, nil)},
		"CD create answered 201":       {cd, exchange(t, http.MethodPost, tokens, `{"description":"d"}`, jsonResponse(201, created))},
		"CD account that is no UUID":   {cd, exchange(t, http.MethodGet, "http://h/api/v0/accounts/acme/clusters/c/tokens", "", nil)},
	} {
		if _, err := tc.spec.Validate(tc.rec); err == nil {
			t.Errorf("%s: the spec validator accepted it", name)
		}
	}
	if _, err := cd.Validate(exchange(t, http.MethodPost, tokens, `{"description":"d"}`, jsonResponse(200, created))); err != nil {
		t.Errorf("a well-formed create was refused: %v", err)
	}
}
