package tokenengine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// envSpecsDir overrides where the specs folder is looked for (default: ../shared/specs next to
// the repository root).
const envSpecsDir = "TOKEN_OPERATOR_SPECS_DIR"

const enterpriseSpec = "influxdb3-enterprise.yml"

// specsDir walks up from the package to the directory holding go.mod and returns ../shared/specs.
func specsDir(t *testing.T) string {
	if d := os.Getenv(envSpecsDir); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "specs")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}

// TestResponsesMatchEnterpriseSpec validates the token operations' responses against the
// InfluxDB 3 Enterprise OpenAPI document.
//
// Known deviation, handled explicitly below: the spec's 201 schema for
// POST /api/v3/enterprise/configure/token (ResourceTokenObject) repeats the request body, while
// the real server answers with the token object (docs/engines/facts.md §1). The engine returns the token
// object, so that response is checked against AdminTokenObject instead, and the test asserts that
// the spec's own schema still differs so that a fixed spec is noticed.
func TestResponsesMatchEnterpriseSpec(t *testing.T) {
	path := filepath.Join(specsDir(t), enterpriseSpec)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("specs folder is missing (%s not found; it is expected at ../shared/specs relative to the repository root, or set %s): %v", enterpriseSpec, envSpecsDir, err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	// Known deviation: AdminTokenObject.expiry is not marked nullable, yet the spec's own example
	// and the real server send null for a token that never expires. Allow null, and check that the
	// spec still needs this so that a fixed spec is noticed.
	expiry := doc.Components.Schemas["AdminTokenObject"].Value.Properties["expiry"].Value
	if expiry.Nullable {
		t.Error("AdminTokenObject.expiry is nullable now; drop the deviation handling in this test and docs/token-engine.md")
	}
	expiry.Nullable = true

	inst := tokenenginetest.Start(t)
	doc.Servers = openapi3.Servers{{URL: inst.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}

	// exchange sends a request, validates it against the spec, then validates the response.
	exchange := func(method, p, auth, body string) (int, string, error) {
		t.Helper()
		req, _ := http.NewRequest(method, inst.URL+p, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", bearer(auth))
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s is not in the spec: %v", method, p, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Fatalf("our test request %s %s does not match the spec: %v", method, p, err)
		}
		req.Body = io.NopCloser(strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		raw, _ := io.ReadAll(resp.Body)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
		out.SetBodyBytes(raw)
		return resp.StatusCode, string(raw), openapi3filter.ValidateResponse(ctx, out)
	}
	must := func(code int, body string, err error) string {
		t.Helper()
		if err != nil {
			t.Errorf("response %d %s does not match the spec: %v", code, body, err)
		}
		return body
	}

	must(exchange(http.MethodPost, tokenengine.PathNamedAdminToken, inst.AdminToken, `{"token_name":"ops","expiry_secs":60}`))
	must(exchange(http.MethodPost, tokenengine.PathNamedAdminToken, inst.AdminToken, `{"token_name":"ops"}`)) // 409
	must(exchange(http.MethodPost, tokenengine.PathNamedAdminToken, "", `{"token_name":"x"}`))                // 401
	admin := between(must(exchange(http.MethodPost, tokenengine.PathRegenerateAdmin, inst.AdminToken, "")), `"token":"`, `"`)
	must(exchange(http.MethodPost, tokenengine.PathRegenerateAdmin, "apiv3_unknown", "")) // 401

	// The deviation: validate the resource-token 201 against AdminTokenObject.
	body := `{"token_name":"rw","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read","write"]}],"expiry_secs":3600}`
	code, resBody, err := exchange(http.MethodPost, tokenengine.PathResourceToken, admin, body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resBody)
	}
	// ResourceTokenObject has no required fields, so any object passes it; the deviation is that
	// it describes the request, without the token string the server returns.
	if err != nil {
		t.Errorf("resource token 201 against the spec's own schema: %v", err)
	}
	if _, ok := doc.Components.Schemas["ResourceTokenObject"].Value.Properties["token"]; ok {
		t.Error("the spec's ResourceTokenObject now has a token field; drop the deviation handling in this test and docs/token-engine.md")
	}
	tokenObject := doc.Components.Schemas["AdminTokenObject"].Value
	if err := tokenObject.VisitJSON(decodeAny(t, resBody)); err != nil {
		t.Errorf("resource token 201 does not match AdminTokenObject: %v", err)
	}
	// The spec types it loosely; make sure the required fields really are there.
	for _, k := range []string{`"id":`, `"name":`, `"token":`, `"hash":`, `"created_at":`, `"expiry":`} {
		if !strings.Contains(resBody, k) {
			t.Errorf("token object lacks %s", k)
		}
	}
	must(exchange(http.MethodPost, tokenengine.PathResourceToken, "", body)) // 401

	must(exchange(http.MethodDelete, tokenengine.PathDeleteToken+"?token_name=rw", admin, ""))
	must(exchange(http.MethodDelete, tokenengine.PathDeleteToken+"?token_name=rw", admin, "")) // 404
	must(exchange(http.MethodDelete, tokenengine.PathDeleteToken+"?token_name=rw", "", ""))    // 401
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
