package tokenengine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
)

// response is a read HTTP answer.
type response struct {
	code   int
	header http.Header
	body   string
}

// call sends one request; auth is the whole Authorization header value ("" for none).
func call(t testing.TB, method, url, auth, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func bearer(tok string) string { return "Bearer " + tok }

// dbTokenBody is a resource-token request for actions on databases.
func dbTokenBody(name string, dbs []string, actions []string, extra string) string {
	b, _ := json.Marshal(map[string]any{"token_name": name, "permissions": []map[string]any{{"resource_type": "db", "resource_names": dbs, "actions": actions}}})
	s := string(b)
	if extra != "" {
		s = s[:len(s)-1] + "," + extra + "}"
	}
	return s
}

// mint creates a resource token and returns the token object.
func mint(t testing.TB, url, admin, body string) tokenengine.TokenObject {
	t.Helper()
	r := call(t, http.MethodPost, url+tokenengine.PathResourceToken, bearer(admin), body)
	if r.code != http.StatusCreated {
		t.Fatalf("create: got %d %s, want 201", r.code, r.body)
	}
	var o tokenengine.TokenObject
	if err := json.Unmarshal([]byte(r.body), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func wantCode(t testing.TB, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got %d %q, want %d", r.code, r.body, code)
	}
}

func wantJSONError(t testing.TB, r response, code int, contains string) {
	t.Helper()
	wantCode(t, r, code)
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not a JSON error", r.body)
	}
	if !strings.Contains(e.Error, contains) {
		t.Fatalf("error %q does not mention %q", e.Error, contains)
	}
}

func wantText(t testing.TB, r response, code int, text string) {
	t.Helper()
	wantCode(t, r, code)
	if r.body != text || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("got %q (%s), want plain text %q", r.body, r.header.Get("Content-Type"), text)
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func decodeJSON(resp *http.Response, v any) error {
	defer func() { _ = resp.Body.Close() }()
	return json.NewDecoder(resp.Body).Decode(v)
}
