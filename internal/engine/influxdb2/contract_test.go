package influxdb2_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb2"
	"github.com/tokenops/token-operator/internal/engine/influxdb2/influxdb2test"
	"github.com/tokenops/token-operator/internal/engine/spectest"
)

func newClient(t *testing.T, base, org, token string, rec *httpapi.Recorder) *influxdb2.Client {
	t.Helper()
	cfg := influxdb2.Config{Config: httpapi.Config{URL: base, Backoff: 10 * time.Millisecond, WrapTransport: rec.Wrap}, Org: org, Token: engine.Plaintext(token)}
	c, err := influxdb2.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContract runs the engine contract against the InfluxDB 2.x test server, then checks every
// request the adapter sent and every answer it got against the official v2 OSS spec.
func TestContract(t *testing.T) {
	srv := influxdb2test.Start(t)
	rec := &httpapi.Recorder{}
	const wrongToken = "WrongToken0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdefABCDEFwrong=="
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		return enginetest.Harness{
			Engine:    newClient(t, srv.URL, influxdb2test.Org, srv.Token, rec),
			Restarted: func(t *testing.T) engine.Engine { return newClient(t, srv.URL, influxdb2test.Org, srv.Token, rec) },
			Unreachable: func(t *testing.T) engine.Engine {
				return newClient(t, enginetest.ClosedURL(t, ""), influxdb2test.Org, srv.Token, rec)
			},
			WrongCredentials: func(t *testing.T) engine.Engine { return newClient(t, srv.URL, influxdb2test.Org, wrongToken, rec) },
			// v2 has no token expiry (the operator revokes at expiry) and no system resources.
			Features: enginetest.Features{Wildcard: true, RefusesUnknownDatabases: true},
			Authorize: func(t *testing.T, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
				return authorize(t, srv, tok, rt, name, a)
			},
			CreateDatabase: func(_ *testing.T, name string) { srv.CreateBucket(name) },
			Secrets:        []string{srv.Token, wrongToken},
		}
	})
	spectest.Check(t, specFile, rec.Requests(), specOptions(srv.Token, wrongToken))
}

// specFile is the InfluxDB 2.x OSS spec (docs-v2 copy; see ../shared/specs/README.md).
const specFile = "influxdb2-oss.yml"

// specOptions: requests use the spec's case-sensitive Token scheme; answers are validated too.
func specOptions(secrets ...string) spectest.Options {
	return spectest.Options{
		Scheme:    httpapi.SchemeToken,
		Responses: true,
		Secrets:   secrets,
		Want: []string{
			"GET " + influxdb2.PathOrgs,
			"GET " + influxdb2.PathBuckets,
			"GET " + influxdb2.PathAuthorizations,
			"POST " + influxdb2.PathAuthorizations,
			"GET " + influxdb2.PathAuthorizations + "/{authID}",
			"DELETE " + influxdb2.PathAuthorizations + "/{authID}",
		},
	}
}

// authorize asks the test server: a write for write, reading the bucket for read.
func authorize(t *testing.T, srv *influxdb2test.Server, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
	t.Helper()
	if rt != engine.ResourceDatabase {
		return false
	}
	method, u := http.MethodGet, srv.URL+"/api/v2/buckets/"+srv.BucketID(name)
	if a == engine.ActionWrite {
		method, u = http.MethodPost, srv.URL+"/api/v2/write?"+url.Values{"org": {influxdb2test.Org}, "bucket": {name}}.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+tok.Reveal())
	return enginetest.Allowed(t, req)
}
