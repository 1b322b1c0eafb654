package clouddedicated_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated/clouddedicatedtest"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/spectest"
)

func newClient(t *testing.T, srv *clouddedicatedtest.Server, base, token string, rec *httpapi.Recorder) *clouddedicated.Client {
	t.Helper()
	cfg := clouddedicated.Config{Config: httpapi.Config{URL: base, Backoff: 10 * time.Millisecond, WrapTransport: rec.Wrap},
		AccountID: srv.AccountID, ClusterID: srv.ClusterID, ManagementToken: engine.Plaintext(token)}
	c, err := clouddedicated.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongToken is a well-formed management token the test server does not know.
const wrongToken = "mgmt_WrongManagementToken0123456789abcdefABCDEF"

// TestContract runs the engine contract against the Cloud Dedicated test server, then checks
// every request the adapter sent and every answer it got against the Management API spec.
func TestContract(t *testing.T) {
	srv := clouddedicatedtest.Start(t)
	rec := &httpapi.Recorder{}
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		return enginetest.Harness{
			Engine:    newClient(t, srv, srv.URL, srv.ManagementToken, rec),
			Restarted: func(t *testing.T) engine.Engine { return newClient(t, srv, srv.URL, srv.ManagementToken, rec) },
			Unreachable: func(t *testing.T) engine.Engine {
				return newClient(t, srv, enginetest.ClosedURL(t, "/api/v0"), srv.ManagementToken, rec)
			},
			WrongCredentials: func(t *testing.T) engine.Engine { return newClient(t, srv, srv.URL, wrongToken, rec) },
			// expiresAt is sent in whole seconds, rounded up; no system resources.
			Features: enginetest.Features{Wildcard: true, NativeExpiry: true, ExpiryGranularity: time.Second},
			Authorize: func(t *testing.T, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
				return authorize(t, srv, tok, rt, name, a)
			},
			Secrets: []string{srv.ManagementToken, wrongToken},
		}
	})
	spectest.Check(t, specFile, rec.Requests(), specOptions(srv.ManagementToken, wrongToken))
}

// specFile is the Cloud Dedicated Management API spec (see ../shared/specs/README.md).
const specFile = "cloud-dedicated-management.yml"

func specOptions(secrets ...string) spectest.Options {
	const tokens = "/accounts/{accountId}/clusters/{clusterId}/tokens"
	return spectest.Options{
		StripPrefix: "/api/v0", // the spec's server URL path
		Scheme:      httpapi.SchemeBearer,
		Responses:   true,
		Secrets:     secrets,
		Want:        []string{"GET " + tokens, "POST " + tokens, "GET " + tokens + "/{tokenId}", "DELETE " + tokens + "/{tokenId}"},
	}
}

// authorize asks the test server's data plane: a write for write, a query for read.
func authorize(t *testing.T, srv *clouddedicatedtest.Server, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
	t.Helper()
	if rt != engine.ResourceDatabase {
		return false
	}
	method, u := http.MethodGet, srv.DataURL+"/query?"+url.Values{"db": {name}, "q": {"SELECT 1"}}.Encode()
	if a == engine.ActionWrite {
		method, u = http.MethodPost, srv.DataURL+"/api/v2/write?"+url.Values{"bucket": {name}}.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	return enginetest.Allowed(t, req)
}
