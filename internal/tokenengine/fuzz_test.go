package tokenengine_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// FuzzDecodeCreateRequest: the decoder never panics, whatever it accepts is valid, and an
// accepted request survives a round trip through its wire form.
func FuzzDecodeCreateRequest(f *testing.F) {
	for _, s := range []string{
		`{"token_name":"a","permissions":[{"resource_type":"db","resource_names":["x"],"actions":["read","write"]}],"expiry_secs":60}`,
		`{"token_name":"a","permissions":[{"resource_type":"db","resource_identifier":["*"],"actions":["write"]}],"expiry_secs":null}`,
		`{"token_name":"s","permissions":[{"resource_type":"system","resource_names":["HEALTH","ping"],"actions":["read"]}]}`,
		`{"token_name":"a","permissions":[],"expiry_secs":0}`,
		`{"token_name":"","permissions":null}`,
		`{"token_name":"a","permissions":[{"resource_type":"*"}],"x":1}`,
		`[1,2]`, `{`, ``, `{"token_name":"a\u0000"}`, `{"expiry_secs":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := tokenengine.DecodeCreateRequest(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if req.TokenName == "" || strings.TrimSpace(req.TokenName) != req.TokenName || len(req.Permissions) == 0 {
			t.Fatalf("accepted an invalid request %+v", req)
		}
		if req.ExpirySecs != nil && *req.ExpirySecs <= 0 {
			t.Fatalf("accepted expiry_secs %d", *req.ExpirySecs)
		}
		for _, p := range req.Permissions {
			if (p.ResourceType != "db" && p.ResourceType != "system") || len(p.Names) == 0 || len(p.Actions) == 0 {
				t.Fatalf("accepted an invalid permission %+v", p)
			}
		}
		wire, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := tokenengine.DecodeCreateRequest(wire)
		if err != nil || !reflect.DeepEqual(req, again) {
			t.Fatalf("round trip of %s failed: %v\n%+v\n%+v", wire, err, req, again)
		}
	})
}

// FuzzAuthorize: whatever the headers and URIs, the authorize endpoint answers 204, 400, 401 or
// 403 with a JSON error, and it allows only requests that present a known token.
func FuzzAuthorize(f *testing.F) {
	inst := tokenenginetest.Start(f)
	ro := mint(f, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	known := []string{ro.Token, inst.AdminToken}
	h := inst.Engine().Handler()
	for _, s := range []struct{ auth, target, origURI string }{
		{"Bearer " + ro.Token, "/api/v3/authorize?db=a&action=read", ""},
		{"Token " + ro.Token, "/api/v3/authorize", "/api/v3/write_lp?db=a"},
		{"", "/api/v3/authorize", "/query?db=a&p=" + url.QueryEscape(ro.Token)},
		{"Basic dTphcGl2M194", "/api/v3/authorize/api/v2/write?bucket=a", ""},
		{"Bearer x y", "/api/v3/authorize?db=&action=", ""},
		{"", "/api/v3/authorize", "%zz"},
		{"Bearer " + inst.AdminToken, "/api/v3/authorize", "/anything"},
	} {
		f.Add(s.auth, s.target, s.origURI)
	}
	f.Fuzz(func(t *testing.T, auth, target, origURI string) {
		if !strings.HasPrefix(target, tokenengine.PathAuthorize) {
			target = tokenengine.PathAuthorize + "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://engine"+tokenengine.PathAuthorize, nil)
		req.URL, req.RequestURI = u, u.RequestURI()
		req.Header.Set("Authorization", auth)
		req.Header.Set(tokenengine.HeaderOriginalURI, origURI)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 204:
			presented := auth + " " + origURI + " " + target
			if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic ")); err == nil {
				presented += " " + string(b)
			}
			if q, err := url.QueryUnescape(presented); err == nil {
				presented += " " + q
			}
			ok := false
			for _, k := range known {
				ok = ok || strings.Contains(presented, k)
			}
			if !ok {
				t.Fatalf("allowed without a known token: %q %q %q", auth, target, origURI)
			}
		case 400, 401, 403:
			var e struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%d without a JSON error: %q", rec.Code, rec.Body.String())
			}
		case 301, 307, 308, 404, 405:
			// a target the mux cleans, redirects or does not route to the endpoint
		default:
			t.Fatalf("unexpected status %d for %q %q %q", rec.Code, auth, target, origURI)
		}
	})
}
