package influxdb3_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestContract runs the engine contract against a real token engine on loopback and then checks
// every request the adapter sent against the official InfluxDB 3 Enterprise spec.
func TestContract(t *testing.T) {
	inst := tokenenginetest.Start(t)
	rec := &httpapi.Recorder{}
	newClient := func(t *testing.T, base, token string) engine.Engine {
		c, err := influxdb3.New(httpapi.Config{URL: base, WrapTransport: rec.Wrap, Backoff: 10 * time.Millisecond}, engine.Plaintext(token))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	wrongToken := tokenenginetest.NewTokenString(t)
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		return enginetest.Harness{
			Engine:           newClient(t, inst.URL, inst.AdminToken),
			Unreachable:      func(t *testing.T) engine.Engine { return newClient(t, enginetest.ClosedURL(t, ""), inst.AdminToken) },
			WrongCredentials: func(t *testing.T) engine.Engine { return newClient(t, inst.URL, wrongToken) },
			Features:         enginetest.Features{SystemTokens: true, Wildcard: true, NativeExpiry: true, ExpiryGranularity: time.Second},
			Authorize: func(t *testing.T, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
				return authorize(t, inst.URL, tok, rt, name, a)
			},
			Secrets: []string{inst.AdminToken, wrongToken},
		}
	})
	validateAgainstSpec(t, rec.Requests())
}

// authorize asks the token engine itself: /api/v3/authorize for databases (204 allow, 401/403
// deny), and the system endpoint for system resources, as a scraper or probe would.
func authorize(t *testing.T, base string, token engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
	t.Helper()
	u := base + "/" + name
	if rt == engine.ResourceDatabase {
		u = base + "/api/v3/authorize?" + url.Values{"db": {name}, "action": {string(a)}}.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	return enginetest.Allowed(t, req)
}
