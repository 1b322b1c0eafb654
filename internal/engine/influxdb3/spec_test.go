package influxdb3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
)

// specFile is the official spec, kept beside the repository (see its README for provenance).
const specFile = "influxdb3-enterprise.yml"

// validateAgainstSpec checks each recorded request (path, method, query parameters, JSON body)
// against the InfluxDB 3 Enterprise OpenAPI spec. Known spec deviations are handled here, each
// with its reason:
//   - GET /api/v3/query_sql: the spec copies the POST operation's required request body onto
//     GET; the server reads only the query parameters on GET, so the body is not validated.
//   - db=_internal is not a database a user creates, but the spec's db parameter is a plain
//     string, so nothing is lost; system.tokens exists only there (ENGINES.md §1).
//   - Requests of the unreachable and wrong-credential cases are validated too: they never
//     succeed, but they must be as well-formed as the others.
//   - Security: the spec lists several schemes; we check that the Bearer one is used, not
//     whether the token is valid (the wrong-credential case sends a well-formed wrong token).
func validateAgainstSpec(t *testing.T, reqs []httpapi.RecordedRequest) {
	t.Run("SpecConformance", func(t *testing.T) {
		path, ok := findSpec(t)
		if !ok {
			t.Skipf("no %s in ../shared/specs next to the repository root: spec conformance not checked", specFile)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			t.Fatalf("loading %s: %v", path, err)
		}
		// The spec's servers name localhost:8181 only; route on paths regardless of host.
		doc.Servers = nil
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatalf("building router: %v", err)
		}
		if len(reqs) == 0 {
			t.Fatal("no requests were recorded")
		}
		seen := map[string]int{}
		for _, rec := range reqs {
			if err := validate(router, rec); err != nil {
				t.Errorf("%s %s: %v", rec.Method, rec.URL.Path, err)
			}
			seen[rec.Method+" "+rec.URL.Path]++
		}
		for _, want := range []string{
			http.MethodPost + " " + influxdb3.PathCreateToken,
			http.MethodDelete + " " + influxdb3.PathDeleteToken,
			http.MethodGet + " " + influxdb3.PathQuerySQL,
		} {
			if seen[want] == 0 {
				t.Errorf("the suite never sent %s", want)
			}
		}
		t.Logf("validated %d requests: %v", len(reqs), seen)
	})
}

func validate(router routers.Router, rec httpapi.RecordedRequest) error {
	req, err := http.NewRequestWithContext(context.Background(), rec.Method, rec.URL.String(), io.NopCloser(bytes.NewReader(rec.Body)))
	if err != nil {
		return err
	}
	req.Header = rec.Header.Clone()
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			ExcludeRequestBody: rec.Method == http.MethodGet, // see the deviation above
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				if ai.SecuritySchemeName == "BearerAuthentication" && req.Header.Get("Authorization") != "" {
					return nil
				}
				return errNotBearer
			},
		},
	}
	return openapi3filter.ValidateRequest(context.Background(), in)
}

var errNotBearer = &bearerError{}

type bearerError struct{}

func (*bearerError) Error() string { return "not the Bearer scheme" }

// findSpec looks for ../shared/specs/<specFile> relative to the directory holding go.mod.
func findSpec(t *testing.T) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "specs", specFile)
			_, err := os.Stat(p)
			return p, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// TestSpecValidatorRejects makes sure the conformance check can fail: the docs' old
// resource_identifier field and a DELETE without token_name are not what the spec allows.
func TestSpecValidatorRejects(t *testing.T) {
	path, ok := findSpec(t)
	if !ok {
		t.Skipf("no %s in ../shared/specs next to the repository root", specFile)
	}
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{"Authorization": {"Bearer x"}, "Content-Type": {"application/json"}}
	for name, rec := range map[string]httpapi.RecordedRequest{
		"resource_identifier": {Method: http.MethodPost, URL: mustURL(t, "http://h"+influxdb3.PathCreateToken), Header: header,
			Body: []byte(`{"token_name":"a","permissions":[{"resource_type":"db","resource_identifier":["x"],"actions":["read"]}]}`)},
		"no token_name": {Method: http.MethodDelete, URL: mustURL(t, "http://h"+influxdb3.PathDeleteToken), Header: header},
	} {
		if err := validate(router, rec); err == nil {
			t.Errorf("%s: the spec validator accepted it", name)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
