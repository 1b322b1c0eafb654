package tokenengine_test

import (
	"encoding/base64"
	"net/http"
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

// TestAuthorizeForGateways drives the endpoint the way Envoy ext_authz, NGINX auth_request and
// Traefik ForwardAuth call it.
func TestAuthorizeForGateways(t *testing.T) {
	inst := tokenenginetest.Start(t)
	rw := mint(t, inst.URL, inst.AdminToken, dbTokenBody("rw", []string{"a"}, []string{"read", "write"}, ""))
	ro := mint(t, inst.URL, inst.AdminToken, dbTokenBody("ro", []string{"a"}, []string{"read"}, ""))
	health := mint(t, inst.URL, inst.AdminToken, `{"token_name":"h","permissions":[{"resource_type":"system","resource_names":["health"],"actions":["read"]}]}`)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+ro.Token))
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		auth    string
		headers []string
		code    int
	}{
		{"nginx write_lp", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Original-URI", "/api/v3/write_lp?db=a&precision=s", "X-Original-Method", "POST"}, 204},
		{"nginx write_lp read-only", "GET", "/api/v3/authorize", bearer(ro.Token), []string{"X-Original-URI", "/api/v3/write_lp?db=a"}, 403},
		{"nginx other db", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Original-URI", "/api/v3/query_sql?db=b&q=select+1"}, 403},
		{"traefik v2 write", "GET", "/api/v3/authorize", "Token " + rw.Token, []string{"X-Forwarded-Uri", "/api/v2/write?bucket=a&org=x", "X-Forwarded-Method", "POST"}, 204},
		{"traefik v2 write read-only", "GET", "/api/v3/authorize", "Token " + ro.Token, []string{"X-Forwarded-Uri", "/api/v2/write?bucket=a"}, 403},
		{"traefik query_influxql", "GET", "/api/v3/authorize", bearer(ro.Token), []string{"X-Forwarded-Uri", "/api/v3/query_influxql?db=a&q=SHOW+MEASUREMENTS"}, 204},
		{"v1 query with p", "GET", "/api/v3/authorize", "", []string{"X-Original-URI", "/query?db=a&q=select&p=" + ro.Token}, 204},
		{"v1 write with p read-only", "GET", "/api/v3/authorize", "", []string{"X-Original-URI", "/write?db=a&p=" + ro.Token}, 403},
		{"v1 write with basic", "GET", "/api/v3/authorize", basic, []string{"X-Original-URI", "/write?db=a"}, 403},
		{"v1 query with basic", "GET", "/api/v3/authorize", basic, []string{"X-Original-URI", "/query?db=a"}, 204},
		{"p not accepted on v3 paths", "GET", "/api/v3/authorize", "", []string{"X-Original-URI", "/api/v3/query_sql?db=a&p=" + ro.Token}, 401},
		{"envoy write_lp", "POST", "/api/v3/authorize/api/v3/write_lp?db=a", bearer(rw.Token), nil, 204},
		{"envoy write_lp read-only", "POST", "/api/v3/authorize/api/v3/write_lp?db=a", bearer(ro.Token), nil, 403},
		{"envoy query_sql", "GET", "/api/v3/authorize/api/v3/query_sql?db=a", bearer(ro.Token), nil, 204},
		{"envoy unknown token", "GET", "/api/v3/authorize/api/v3/query_sql?db=a", bearer("apiv3_x"), nil, 401},
		{"health via gateway", "GET", "/api/v3/authorize", bearer(health.Token), []string{"X-Forwarded-Uri", "/health"}, 204},
		{"metrics via gateway", "GET", "/api/v3/authorize", bearer(health.Token), []string{"X-Forwarded-Uri", "/metrics"}, 403},
		{"unmapped path", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Forwarded-Uri", "/api/v3/configure/database"}, 403},
		{"unmapped path admin", "GET", "/api/v3/authorize", bearer(inst.AdminToken), []string{"X-Forwarded-Uri", "/api/v3/configure/database"}, 204},
		{"write without db", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Original-URI", "/api/v3/write_lp"}, 400},
		{"bad uri", "GET", "/api/v3/authorize", bearer(rw.Token), []string{"X-Original-URI", "::not a uri"}, 400},
	} {
		r := call(t, tc.method, inst.URL+tc.path, tc.auth, "", tc.headers...)
		if r.code != tc.code {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.code, r.body, tc.code)
		}
	}
}
