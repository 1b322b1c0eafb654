package tokenengine_test

import (
	"encoding/base64"
	"encoding/json"
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

// FuzzAuthorize: whatever the mode, method, headers, URIs and body, the authorize endpoint
// answers 200 (204 for the direct form), 400, 401 or 403 with a JSON error that never quotes a
// token, and it allows only requests that present a known token.
func FuzzAuthorize(f *testing.F) {
	inst := tokenenginetest.Start(f)
	ro := mint(f, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	known := []string{ro.Token, inst.AdminToken}
	h := inst.Engine().Handler()
	for _, s := range []struct{ method, auth, target, origURI, origMethod, fwdURI, ctype, body string }{
		{"GET", "Bearer " + ro.Token, "/api/v3/authorize?db=a&action=read", "", "", "", "", ""},
		{"GET", "Token " + ro.Token, "/api/v3/authorize/nginx", "/api/v3/write_lp?db=a", "POST", "", "", ""},
		{"GET", "", "/api/v3/authorize/nginx", "/query?db=a&q=select+*+from+m&p=" + url.QueryEscape(ro.Token), "GET", "", "", ""},
		{"GET", "Bearer " + ro.Token, "/api/v3/authorize/traefik", "", "", "/api/v3/query_influxql?db=a&q=SHOW+DATABASES", "", ""},
		{"POST", "Basic dTphcGl2M194", "/api/v3/authorize/envoy/api/v2/write?bucket=a", "", "", "", "", ""},
		{"POST", "Bearer " + ro.Token, "/api/v3/authorize/envoy-body/api/v3/query_sql", "", "", "", "application/json", `{"db":"a","q":"select 1"}`},
		{"POST", "Bearer " + ro.Token, "/api/v3/authorize/envoy-body/query?db=a", "", "", "", "application/x-www-form-urlencoded", "q=SELECT+*+INTO+b..m+FROM+m"},
		{"POST", "Bearer " + ro.Token, "/api/v3/authorize/check", "", "", "", "application/json", `{"permissions":[{"resource_type":"db","resource_name":"a","action":"read"}]}`},
		{"GET", "Bearer x y", "/api/v3/authorize?db=&action=", "", "", "", "", ""},
		{"GET", "", "/api/v3/authorize/nginx", "%zz", "GET", "", "", ""},
		{"GET", "0", ".", "0", "", "", "", ""}, // a target the mux redirects (an earlier crasher)
		{"GET", "Bearer " + inst.AdminToken, "/api/v3/authorize/nginx", "/anything", "DELETE", "", "", ""},
	} {
		f.Add(s.method, s.auth, s.target, s.origURI, s.origMethod, s.fwdURI, s.ctype, s.body)
	}
	f.Fuzz(func(t *testing.T, method, auth, target, origURI, origMethod, fwdURI, ctype, body string) {
		if !strings.HasPrefix(target, tokenengine.PathAuthorize) {
			target = tokenengine.PathAuthorize + "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return
		}
		req := httptest.NewRequest(method, "http://engine"+tokenengine.PathAuthorize, strings.NewReader(body))
		req.URL, req.RequestURI = u, u.RequestURI()
		for k, v := range map[string]string{"Authorization": auth, tokenengine.HeaderOriginalURI: origURI, tokenengine.HeaderOriginalMethod: origMethod,
			tokenengine.HeaderForwardedURI: fwdURI, "Content-Type": ctype} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, k := range known {
			if strings.Contains(rec.Body.String(), k) {
				t.Fatalf("the answer quotes a token")
			}
		}
		switch rec.Code {
		case 200, 204:
			presented := auth + " " + origURI + " " + target + " " + fwdURI
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
				t.Fatalf("allowed without a known token: %q %q %q %q", method, auth, target, origURI)
			}
		case 400, 401, 403:
			var e struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%d without a JSON error: %q", rec.Code, rec.Body.String())
			}
		case 301, 307, 308, 404, 405:
			// a target the mux cleans, redirects or does not route to the endpoint
		default:
			t.Fatalf("unexpected status %d for %q %q %q %q", rec.Code, method, auth, target, origURI)
		}
	})
}

// validMethod is an HTTP token, as net/http requires of a request method.
func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < '!' || c > '~' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}
