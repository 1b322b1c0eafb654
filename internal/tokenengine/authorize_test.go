package tokenengine_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func authorize(t testing.TB, base, tok, db, action string) response {
	t.Helper()
	return call(t, http.MethodGet, base+tokenengine.PathAuthorize+"?db="+db+"&action="+action, bearer(tok), "")
}

func TestAuthorizeDirect(t *testing.T) {
	inst := tokenenginetest.Start(t)
	rw := mint(t, inst.URL, inst.AdminToken, dbTokenBody("rw", []string{"a", "b"}, []string{"read", "write"}, ""))
	ro := mint(t, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	any := mint(t, inst.URL, inst.AdminToken, dbTokenBody("any", []string{"*"}, []string{"write"}, ""))
	sys := mint(t, inst.URL, inst.AdminToken, `{"token_name":"s","permissions":[{"resource_type":"system","resource_names":["*"],"actions":["read"]}]}`)
	for _, tc := range []struct {
		tok, db, action string
		code            int
	}{
		{rw.Token, "a", "write", 204},
		{rw.Token, "b", "read", 204},
		{rw.Token, "c", "read", 403},
		{ro.Token, "a", "read", 204},
		{ro.Token, "a", "write", 403},
		{any.Token, "zzz", "write", 204},
		{any.Token, "zzz", "read", 403},
		{sys.Token, "a", "read", 403},
		{inst.AdminToken, "anything", "write", 204},
		{"apiv3_nope", "a", "read", 401},
		{rw.Token, "", "read", 400},
		{rw.Token, "a", "delete", 400},
	} {
		if r := authorize(t, inst.URL, tc.tok, tc.db, tc.action); r.code != tc.code {
			t.Errorf("db=%q action=%q: got %d %s, want %d", tc.db, tc.action, r.code, r.body, tc.code)
		}
	}
	wantJSONError(t, call(t, http.MethodGet, inst.URL+tokenengine.PathAuthorize+"?db=a&action=read", "", ""), http.StatusUnauthorized, "not authenticated")
}

// TestAuthorizeForGateways drives the per-gateway modes the way their documentation says the
// gateways call: NGINX auth_request with the docs/gateway.md configuration (X-Original-URI and
// X-Original-Method), Traefik ForwardAuth (X-Forwarded-Uri and X-Forwarded-Method, overwritten by
// Traefik), and Envoy's HTTP ext_authz (original method, original path appended to path_prefix,
// body with with_request_body; only 200 is allow). The real NGINX runs in test/gateway.
func TestAuthorizeForGateways(t *testing.T) {
	inst := tokenenginetest.Start(t)
	rw := mint(t, inst.URL, inst.AdminToken, dbTokenBody("rw", []string{"a"}, []string{"read", "write"}, ""))
	ro := mint(t, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	health := mint(t, inst.URL, inst.AdminToken, `{"token_name":"h","permissions":[{"resource_type":"system","resource_names":["health"],"actions":["read"]}]}`)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+ro.Token))
	nginx := func(method, uri string, more ...string) []string {
		return append([]string{"X-Original-URI", uri, "X-Original-Method", method}, more...)
	}
	traefik := func(method, uri string, more ...string) []string {
		return append([]string{"X-Forwarded-Uri", uri, "X-Forwarded-Method", method}, more...)
	}
	const nx, tf, ev, evb = "/api/v3/authorize/nginx", "/api/v3/authorize/traefik", "/api/v3/authorize/envoy", "/api/v3/authorize/envoy-body"
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		auth    string
		headers []string
		body    string
		code    int
	}{
		{"nginx write_lp", "GET", nx, bearer(rw.Token), nginx("POST", "/api/v3/write_lp?db=a&precision=s"), "", 200},
		{"nginx write_lp read-only", "GET", nx, bearer(ro.Token), nginx("POST", "/api/v3/write_lp?db=a"), "", 403},
		{"nginx write_lp via GET is not a write", "GET", nx, bearer(rw.Token), nginx("GET", "/api/v3/write_lp?db=a"), "", 403},
		{"nginx other db", "GET", nx, bearer(rw.Token), nginx("GET", "/api/v3/query_sql?db=b&q=select+1"), "", 403},
		{"nginx client X-Forwarded-Uri conflicts", "GET", nx, bearer(rw.Token), nginx("POST", "/api/v3/write_lp?db=b", "X-Forwarded-Uri", "/api/v3/write_lp?db=a"), "", 400},
		{"nginx without method", "GET", nx, bearer(rw.Token), []string{"X-Original-URI", "/api/v3/write_lp?db=a"}, "", 400},
		{"nginx POST query_sql body unseen", "GET", nx, bearer(ro.Token), nginx("POST", "/api/v3/query_sql?db=a"), "", 403},
		{"nginx POST query_sql admin", "GET", nx, bearer(inst.AdminToken), nginx("POST", "/api/v3/query_sql?db=a"), "", 200},
		{"nginx duplicate db", "GET", nx, bearer(rw.Token), nginx("POST", "/api/v3/write_lp?db=a&db=b"), "", 400},
		{"nginx v1 query drop", "GET", nx, bearer(ro.Token), nginx("GET", "/query?db=a&q=DROP+DATABASE+b"), "", 403},
		{"nginx v1 query qualified", "GET", nx, bearer(ro.Token), nginx("GET", `/query?db=a&q=SELECT+*+FROM+%22b%22..%22m%22`), "", 403},
		{"nginx v1 query select", "GET", nx, bearer(ro.Token), nginx("GET", `/query?db=a&q=SELECT+*+FROM+m%3BSHOW+MEASUREMENTS`), "", 200},
		{"nginx v1 query unparsable", "GET", nx, bearer(ro.Token), nginx("GET", `/query?db=a&q=SELEC`), "", 400},
		{"nginx v1 select into", "GET", nx, bearer(ro.Token), nginx("GET", `/query?db=a&q=SELECT+*+INTO+m2+FROM+m`), "", 403},
		{"nginx v1 select into rw", "GET", nx, bearer(rw.Token), nginx("GET", `/query?db=a&q=SELECT+*+INTO+m2+FROM+m`), "", 200},
		{"nginx v1 write rp composes", "GET", nx, bearer(rw.Token), nginx("POST", "/write?db=a&rp=x"), "", 403},
		{"nginx v1 write rp autogen", "GET", nx, bearer(rw.Token), nginx("POST", "/write?db=a&rp=autogen"), "", 200},
		{"traefik v2 write", "GET", tf, "Token " + rw.Token, traefik("POST", "/api/v2/write?bucket=a&org=x"), "", 200},
		{"traefik v2 write read-only", "GET", tf, "Token " + ro.Token, traefik("POST", "/api/v2/write?bucket=a"), "", 403},
		{"traefik query_influxql", "GET", tf, bearer(ro.Token), traefik("GET", "/api/v3/query_influxql?db=a&q=SHOW+MEASUREMENTS"), "", 200},
		{"traefik X-Original-URI conflicts", "GET", tf, bearer(ro.Token), traefik("GET", "/api/v3/query_influxql?db=a&q=SHOW+MEASUREMENTS", "X-Original-URI", "/x"), "", 400},
		{"v1 query with p", "GET", nx, "", nginx("GET", "/query?db=a&q=select+*+from+m&p="+ro.Token), "", 200},
		{"v1 write with p read-only", "GET", nx, "", nginx("POST", "/write?db=a&p="+ro.Token), "", 403},
		{"v1 p and Authorization", "GET", nx, bearer(rw.Token), nginx("POST", "/write?db=a&p="+ro.Token), "", 400},
		{"v1 write with basic", "GET", nx, basic, nginx("POST", "/write?db=a"), "", 403},
		{"v1 query with basic", "GET", nx, basic, nginx("GET", "/query?db=a&q=show+tag+keys"), "", 200},
		{"p not accepted on v3 paths", "GET", nx, "", nginx("GET", "/api/v3/query_sql?db=a&q=x&p="+ro.Token), "", 401},
		{"envoy write_lp", "POST", ev + "/api/v3/write_lp?db=a", bearer(rw.Token), nil, "", 200},
		{"envoy write_lp read-only", "POST", ev + "/api/v3/write_lp?db=a", bearer(ro.Token), nil, "", 403},
		{"envoy query_sql", "GET", ev + "/api/v3/query_sql?db=a&q=select+1", bearer(ro.Token), nil, "", 200},
		{"envoy unknown token", "GET", ev + "/api/v3/query_sql?db=a&q=x", bearer("apiv3_x"), nil, "", 401},
		{"envoy POST query_sql body unseen", "POST", ev + "/api/v3/query_sql", bearer(ro.Token), nil, "", 403},
		{"envoy-body POST query_sql", "POST", evb + "/api/v3/query_sql", bearer(ro.Token), nil, `{"db":"a","q":"select 1"}`, 200},
		{"envoy-body POST query_sql other db", "POST", evb + "/api/v3/query_sql?db=a", bearer(ro.Token), nil, `{"db":"b","q":"select 1"}`, 400},
		{"envoy-body POST query_sql body db b", "POST", evb + "/api/v3/query_sql", bearer(ro.Token), nil, `{"db":"b","q":"select 1"}`, 403},
		{"envoy-body duplicate key", "POST", evb + "/api/v3/query_sql", bearer(ro.Token), nil, `{"db":"a","db":"b","q":"x"}`, 400},
		{"envoy-body partial", "POST", evb + "/api/v3/query_sql", bearer(ro.Token), []string{"X-Envoy-Auth-Partial-Body", "true"}, `{"db":"a","q":"x"}`, 400},
		{"envoy-body v1 form drop", "POST", evb + "/query?db=a", bearer(ro.Token), []string{"Content-Type", "application/x-www-form-urlencoded"}, `q=DROP+DATABASE+b`, 403},
		{"envoy-body v1 form select", "POST", evb + "/query?db=a", bearer(ro.Token), []string{"Content-Type", "application/x-www-form-urlencoded"}, `q=SELECT+*+FROM+m`, 200},
		{"envoy-body v1 form conflicting db", "POST", evb + "/query?db=a", bearer(ro.Token), []string{"Content-Type", "application/x-www-form-urlencoded"}, `db=b&q=SELECT+*+FROM+m`, 400},
		{"health via gateway", "GET", tf, bearer(health.Token), traefik("GET", "/health"), "", 200},
		{"metrics via gateway", "GET", tf, bearer(health.Token), traefik("GET", "/metrics"), "", 403},
		{"unmapped path", "GET", tf, bearer(rw.Token), traefik("POST", "/api/v3/configure/database"), "", 403},
		{"unmapped path admin", "GET", tf, bearer(inst.AdminToken), traefik("POST", "/api/v3/configure/database"), "", 200},
		{"write without db", "GET", nx, bearer(rw.Token), nginx("POST", "/api/v3/write_lp"), "", 400},
		{"bad uri", "GET", nx, bearer(rw.Token), nginx("GET", "::not a uri"), "", 400},
		{"legacy gateway headers", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Original-URI", "/api/v3/write_lp?db=a"}, "", 400},
		{"legacy envoy prefix", "POST", "/api/v3/authorize/api/v3/write_lp?db=a", bearer(rw.Token), nil, "", 400},
	} {
		r := call(t, tc.method, inst.URL+tc.path, tc.auth, tc.body, tc.headers...)
		if r.code != tc.code {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.code)
		}
		for _, tok := range []string{rw.Token, ro.Token, inst.AdminToken} {
			if strings.Contains(r.body, tok) {
				t.Errorf("%s: the answer quotes a token", tc.name)
			}
		}
	}
	wantJSONError(t, call(t, "GET", inst.URL+"/api/v3/authorize/api/v3/write_lp", bearer(rw.Token), ""), 400, "/api/v3/authorize/nginx")
}

// TestAuthorizeCheck: the gateway proxy's form, a JSON list of permissions.
func TestAuthorizeCheck(t *testing.T) {
	inst := tokenenginetest.Start(t)
	ro := mint(t, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	check := func(tok, body string) response {
		return call(t, http.MethodPost, inst.URL+tokenengine.PathAuthorize+"/check", bearer(tok), body)
	}
	wantCode(t, check(ro.Token, `{"permissions":[{"resource_type":"db","resource_name":"a","action":"read"}]}`), 200)
	wantJSONError(t, check(ro.Token, `{"permissions":[{"resource_type":"db","resource_name":"a","action":"read"},{"resource_type":"db","resource_name":"b","action":"read"}]}`), 403, `token "ro"`)
	wantCode(t, check(ro.Token, `{"admin":true}`), 403)
	wantCode(t, check(inst.AdminToken, `{"admin":true}`), 200)
	wantCode(t, check(ro.Token, `{}`), 400)
	wantCode(t, check(ro.Token, `{"permisions":[]}`), 400)
	wantCode(t, check("apiv3_nope", `{"admin":true}`), 401)
}
