// Package spectest checks the HTTP traffic of an engine adapter's tests against the official
// OpenAPI specs kept in ../shared/specs next to the repository root (or in
// $TOKEN_OPERATOR_SPECS_DIR): every request an adapter sent and, where asked, every response the
// server gave. Tests only; it is never linked into the operator.
package spectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

// EnvSpecsDir overrides where the specs folder is looked for.
const EnvSpecsDir = "TOKEN_OPERATOR_SPECS_DIR"

// Dir returns the specs folder: $TOKEN_OPERATOR_SPECS_DIR, or ../shared/specs relative to the
// directory holding go.mod above the working directory.
func Dir() (string, error) {
	if d := os.Getenv(EnvSpecsDir); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "specs"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func init() {
	// The Cloud Dedicated spec types account, cluster and token IDs as format uuid, which
	// kin-openapi checks only once the format is defined.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122))
}

// Options say how to read one adapter's traffic against its spec.
type Options struct {
	// StripPrefix is removed from request paths before routing: the spec's server URL path (Cloud
	// Dedicated's /api/v0).
	StripPrefix string
	// Scheme is the Authorization scheme every request must use ("Bearer", "Token").
	Scheme string
	// SkipRequestBody says, for a request, that its body is not validated (a known spec
	// deviation the caller documents).
	SkipRequestBody func(httpapi.RecordedRequest) bool
	// Responses validates the recorded responses too (status, headers, JSON body).
	Responses bool
	// Want are operations the traffic must contain, as "METHOD /spec/path/{param}".
	Want []string
	// Secrets are removed from failure messages.
	Secrets []string
}

// Spec is a loaded spec with its router.
type Spec struct {
	router routers.Router
	opts   Options
}

// Load loads file from the specs folder, or skips t with a message saying where it was looked for.
func Load(t *testing.T, file string, opts Options) *Spec {
	t.Helper()
	dir, err := Dir()
	path := filepath.Join(dir, file)
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		t.Skipf("spec %s not found (expected in ../shared/specs next to the repository root, or set %s): spec conformance not checked: %v", file, EnvSpecsDir, err)
	}
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	// Route on paths whatever the host: the specs name production hosts only.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("building a router for %s: %v", path, err)
	}
	return &Spec{router: router, opts: opts}
}

// Check validates every recorded exchange in a subtest named SpecConformance and fails if an
// operation of opts.Want never occurred.
func Check(t *testing.T, file string, recs []httpapi.RecordedRequest, opts Options) {
	t.Run("SpecConformance", func(t *testing.T) {
		s := Load(t, file, opts)
		if len(recs) == 0 {
			t.Fatal("no requests were recorded")
		}
		seen := map[string]int{}
		for _, rec := range recs {
			op, err := s.Validate(rec)
			if err != nil {
				t.Errorf("%s %s: %s", rec.Method, rec.URL.Path, httpapi.Redact(err.Error(), opts.Secrets...))
			}
			seen[op]++
		}
		for _, want := range opts.Want {
			if seen[want] == 0 {
				t.Errorf("the tests never sent %s", want)
			}
		}
		t.Logf("validated %d exchanges against %s: %v", len(recs), file, seen)
	})
}

// Validate checks one exchange and returns its operation as "METHOD /spec/path".
func (s *Spec) Validate(rec httpapi.RecordedRequest) (string, error) {
	u := *rec.URL
	u.Path = strings.TrimPrefix(u.Path, s.opts.StripPrefix)
	u.RawPath = ""
	req, err := http.NewRequestWithContext(context.Background(), rec.Method, u.String(), io.NopCloser(bytes.NewReader(rec.Body)))
	if err != nil {
		return "", err
	}
	req.Header = rec.Header.Clone()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return rec.Method + " " + u.Path, err
	}
	op := rec.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			ExcludeRequestBody: s.opts.SkipRequestBody != nil && s.opts.SkipRequestBody(rec),
			AuthenticationFunc: s.authenticate,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return op, fmt.Errorf("request: %w", err)
	}
	if !s.opts.Responses || rec.Response == nil {
		return op, nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Response.Status,
		Header:                 rec.Response.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(rec.Response.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return op, fmt.Errorf("response HTTP %d: %w", rec.Response.Status, err)
	}
	return op, nil
}

// authenticate accepts a request that carries credentials with the expected scheme; it checks
// the shape, not whether the credential is valid (the wrong-credential cases send a well-formed
// wrong one).
func (s *Spec) authenticate(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
	scheme, _, ok := strings.Cut(ai.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if ok && (s.opts.Scheme == "" || scheme == s.opts.Scheme) {
		return nil
	}
	return fmt.Errorf("no %q Authorization header (security scheme %s)", s.opts.Scheme, ai.SecuritySchemeName)
}
