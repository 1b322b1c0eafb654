package tokenengine_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

var tokenRE = regexp.MustCompile(`^apiv3_[A-Za-z0-9_-]{86}$`)

func TestCreateResourceToken(t *testing.T) {
	inst := tokenenginetest.Start(t)
	r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), dbTokenBody("rw", []string{"a", "b"}, []string{"read", "write"}, ""))
	wantCode(t, r, http.StatusCreated)
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "token", "hash", "created_at", "expiry"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("token object lacks %q: %s", k, r.body)
		}
	}
	if _, ok := raw["id"].(float64); !ok {
		t.Errorf("id is not a JSON number: %s", r.body)
	}
	if raw["expiry"] != nil {
		t.Errorf("expiry = %v, want null for a token without expiry_secs", raw["expiry"])
	}
	var o tokenengine.TokenObject
	_ = json.Unmarshal([]byte(r.body), &o)
	if !tokenRE.MatchString(o.Token) || len(o.Token) != 92 {
		t.Errorf("token %q is not apiv3_ + 86 base64url characters", o.Token)
	}
	if len(o.Hash) != 128 {
		t.Errorf("hash has %d hex characters, want 128", len(o.Hash))
	}
	if _, err := time.Parse(time.RFC3339, o.CreatedAt); err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", o.CreatedAt, err)
	}

	t.Run("expiry_secs sets expiry", func(t *testing.T) {
		o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("exp", []string{"a"}, []string{"read"}, `"expiry_secs":3600`))
		c, _ := time.Parse(time.RFC3339, o.CreatedAt)
		e, err := time.Parse(time.RFC3339, *o.Expiry)
		if err != nil || e.Sub(c) != time.Hour {
			t.Fatalf("expiry %v, created %v: want one hour apart", o.Expiry, o.CreatedAt)
		}
	})
	t.Run("resource_identifier alias", func(t *testing.T) {
		mint(t, inst.URL, inst.AdminToken, `{"token_name":"alias","permissions":[{"resource_type":"db","resource_identifier":["a"],"actions":["read"]}],"expiry_secs":null}`)
	})
	t.Run("duplicate name is 409 and changes nothing", func(t *testing.T) {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), dbTokenBody("rw", []string{"c"}, []string{"write"}, ""))
		wantText(t, r, http.StatusConflict, "token name already exists, rw")
		wantCode(t, authorize(t, inst.URL, o.Token, "a", "write"), http.StatusNoContent)
		wantCode(t, authorize(t, inst.URL, o.Token, "c", "write"), http.StatusForbidden)
	})
	t.Run("without token 401", func(t *testing.T) {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, "", dbTokenBody("x", []string{"a"}, []string{"read"}, ""))
		wantJSONError(t, r, http.StatusUnauthorized, "the request was not authenticated")
	})
	t.Run("resource token may not create tokens: 403", func(t *testing.T) {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(o.Token), dbTokenBody("x", []string{"a"}, []string{"read"}, ""))
		wantJSONError(t, r, http.StatusForbidden, "unauthorized to perform requested action")
	})
	t.Run("wrong content type 415", func(t *testing.T) {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), "", "Content-Type", "text/plain")
		wantJSONError(t, r, http.StatusUnsupportedMediaType, "application/json")
	})
}

func TestCreateRejectsBadInput(t *testing.T) {
	inst := tokenenginetest.Start(t)
	cases := map[string]struct{ body, mention string }{
		"empty":                {"", "empty"},
		"not json":             {"{", "JSON"},
		"array":                {"[]", "JSON object"},
		"unknown field":        {`{"token_name":"x","permissions":[],"colour":1}`, "unknown field"},
		"unknown perm field":   {`{"token_name":"x","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read"],"x":1}]}`, "unknown field"},
		"missing name":         {`{"permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read"]}]}`, "token_name"},
		"empty name":           {dbTokenBody("", []string{"a"}, []string{"read"}, ""), "token_name"},
		"control char name":    {dbTokenBody("a\nb", []string{"a"}, []string{"read"}, ""), "control"},
		"no permissions":       {`{"token_name":"x","permissions":[]}`, "at least one"},
		"missing permissions":  {`{"token_name":"x"}`, "permissions"},
		"unknown type":         {`{"token_name":"x","permissions":[{"resource_type":"table","resource_names":["a"],"actions":["read"]}]}`, "unknown resource_type"},
		"wildcard type":        {`{"token_name":"x","permissions":[{"resource_type":"*","resource_names":["*"],"actions":["read"]}]}`, "admin"},
		"bad action":           {dbTokenBody("x", []string{"a"}, []string{"delete"}, ""), "unknown action"},
		"system write":         {`{"token_name":"x","permissions":[{"resource_type":"system","resource_names":["health"],"actions":["write"]}]}`, "only allow"},
		"unknown system name":  {`{"token_name":"x","permissions":[{"resource_type":"system","resource_names":["pprof"],"actions":["read"]}]}`, "unknown system resource"},
		"wildcard mixed":       {dbTokenBody("x", []string{"*", "a"}, []string{"read"}, ""), "cannot be combined"},
		"no names":             {dbTokenBody("x", []string{}, []string{"read"}, ""), "resource_names"},
		"missing names":        {`{"token_name":"x","permissions":[{"resource_type":"db","actions":["read"]}]}`, "resource_names"},
		"both names and alias": {`{"token_name":"x","permissions":[{"resource_type":"db","resource_names":["a"],"resource_identifier":["a"],"actions":["read"]}]}`, "not both"},
		"zero expiry":          {dbTokenBody("x", []string{"a"}, []string{"read"}, `"expiry_secs":0`), "positive"},
		"negative expiry":      {dbTokenBody("x", []string{"a"}, []string{"read"}, `"expiry_secs":-5`), "positive"},
		"fractional expiry":    {dbTokenBody("x", []string{"a"}, []string{"read"}, `"expiry_secs":1.5`), "expiry_secs"},
		"huge expiry":          {dbTokenBody("x", []string{"a"}, []string{"read"}, `"expiry_secs":99999999999`), "100 years"},
		"string expiry":        {dbTokenBody("x", []string{"a"}, []string{"read"}, `"expiry_secs":"60"`), "expiry_secs"},
		"trailing data":        {dbTokenBody("x", []string{"a"}, []string{"read"}, "") + "{}", "after the JSON"},
		"oversized":            {`{"token_name":"` + strings.Repeat("a", tokenengine.MaxBodyBytes) + `"}`, "larger than"},
		"name with colon":      {dbTokenBody("x", []string{"a:b"}, []string{"read"}, ""), "':'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), tc.body)
			wantJSONError(t, r, http.StatusBadRequest, tc.mention)
		})
	}
	// Nothing was written: the listing holds only _admin.
	rows := listTokens(t, inst.URL, inst.AdminToken, "SELECT name FROM system.tokens")
	if len(rows) != 1 || rows[0]["name"] != "_admin" {
		t.Fatalf("after bad requests the store holds %v, want only _admin", rows)
	}
}

func TestDeleteToken(t *testing.T) {
	inst := tokenenginetest.Start(t)
	o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("with space/and slash", []string{"a"}, []string{"read"}, ""))
	del := func(q string, auth string) response {
		return call(t, http.MethodDelete, inst.URL+tokenengine.PathDeleteToken+q, auth, "")
	}
	wantJSONError(t, del("?token_name="+url.QueryEscape(o.Name), ""), http.StatusUnauthorized, "not authenticated")
	wantJSONError(t, del("?token_name="+url.QueryEscape(o.Name), bearer(o.Token)), http.StatusForbidden, "unauthorized")
	wantJSONError(t, del("", bearer(inst.AdminToken)), http.StatusBadRequest, "token_name")
	wantText(t, del("?token_name=_admin", bearer(inst.AdminToken)), http.StatusMethodNotAllowed, "cannot delete operator token")
	wantText(t, del("?token_name=nope", bearer(inst.AdminToken)), http.StatusNotFound, "the requested resource was not found: nope")
	r := del("?token_name="+url.QueryEscape(o.Name), bearer(inst.AdminToken))
	wantCode(t, r, http.StatusOK)
	if r.body != "" {
		t.Errorf("delete body %q, want empty", r.body)
	}
	wantCode(t, authorize(t, inst.URL, o.Token, "a", "read"), http.StatusUnauthorized)
	wantCode(t, del("?token_name="+url.QueryEscape(o.Name), bearer(inst.AdminToken)), http.StatusNotFound)
}

func TestAdminTokens(t *testing.T) {
	t.Run("bootstrap disabled by default", func(t *testing.T) {
		inst := tokenenginetest.Start(t, tokenenginetest.WithoutAdminToken())
		wantJSONError(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAdminToken, "", ""), http.StatusForbidden, "--admin-token-file")
	})
	t.Run("bootstrap with flag, then 409", func(t *testing.T) {
		inst := tokenenginetest.Start(t, tokenenginetest.WithoutAdminToken(), tokenenginetest.WithUnauthenticatedBootstrap())
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathAdminToken, "", "")
		wantCode(t, r, http.StatusCreated)
		var o tokenengine.TokenObject
		_ = json.Unmarshal([]byte(r.body), &o)
		if o.Name != "_admin" || !tokenRE.MatchString(o.Token) {
			t.Fatalf("bootstrap returned %+v", o)
		}
		wantText(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAdminToken, "", ""), http.StatusConflict, "token name already exists, _admin")
		mint(t, inst.URL, o.Token, dbTokenBody("x", []string{"a"}, []string{"read"}, ""))
	})
	t.Run("file token exists: bootstrap is 409", func(t *testing.T) {
		inst := tokenenginetest.Start(t, tokenenginetest.WithUnauthenticatedBootstrap())
		wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAdminToken, "", ""), http.StatusConflict)
	})
	t.Run("regenerate keeps id, old string stops working", func(t *testing.T) {
		inst := tokenenginetest.Start(t)
		rows := listTokens(t, inst.URL, inst.AdminToken, "SELECT token_id FROM system.tokens WHERE name = '_admin'")
		o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("x", []string{"a"}, []string{"read"}, ""))
		wantJSONError(t, call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, bearer(o.Token), ""), http.StatusForbidden, "unauthorized")
		wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, "", ""), http.StatusUnauthorized)
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, bearer(inst.AdminToken), "")
		wantCode(t, r, http.StatusCreated)
		var n tokenengine.TokenObject
		_ = json.Unmarshal([]byte(r.body), &n)
		if float64(n.ID) != rows[0]["token_id"] || n.Name != "_admin" || n.Token == inst.AdminToken {
			t.Fatalf("regenerate returned id %d name %q (want id %v, a new string)", n.ID, n.Name, rows[0]["token_id"])
		}
		wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, bearer(inst.AdminToken), ""), http.StatusUnauthorized)
		mint(t, inst.URL, n.Token, dbTokenBody("y", []string{"a"}, []string{"read"}, ""))
	})
	t.Run("named admin", func(t *testing.T) {
		inst := tokenenginetest.Start(t)
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathNamedAdminToken, bearer(inst.AdminToken), `{"token_name":"ops","expiry_secs":600}`)
		wantCode(t, r, http.StatusCreated)
		var o tokenengine.TokenObject
		_ = json.Unmarshal([]byte(r.body), &o)
		if o.Expiry == nil {
			t.Fatal("named admin token lacks expiry")
		}
		mint(t, inst.URL, o.Token, dbTokenBody("x", []string{"a"}, []string{"read"}, ""))
		wantText(t, call(t, http.MethodPost, inst.URL+tokenengine.PathNamedAdminToken, bearer(inst.AdminToken), `{"token_name":"ops"}`), http.StatusConflict, "token name already exists, ops")
		wantJSONError(t, call(t, http.MethodPost, inst.URL+tokenengine.PathNamedAdminToken, bearer(inst.AdminToken), `{"name":"ops"}`), http.StatusBadRequest, "unknown field")
	})
}

func TestAuthorizationHeaders(t *testing.T) {
	inst := tokenenginetest.Start(t)
	o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("r", []string{"a"}, []string{"read"}, ""))
	basic := func(user string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+o.Token))
	}
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"Bearer " + o.Token, 204},
		{"Token " + o.Token, 204},
		{basic("anyone"), 204},
		{basic(""), 204},
		{"bearer " + o.Token, 400},
		{"Bearer  " + o.Token, 400},
		{"Bearer", 400},
		{"Digest " + o.Token, 400},
		{"Basic !!!", 400},
		{"Bearer apiv3_unknown", 401},
		{"Bearer not-a-token", 401},
	} {
		r := call(t, http.MethodGet, inst.URL+tokenengine.PathAuthorize+"?db=a&action=read", tc.auth, "")
		if r.code != tc.code {
			t.Errorf("%.20q…: got %d %s, want %d", tc.auth, r.code, r.body, tc.code)
		}
	}
}

func TestSystemEndpoints(t *testing.T) {
	inst := tokenenginetest.Start(t)
	health := mint(t, inst.URL, inst.AdminToken, `{"token_name":"h","permissions":[{"resource_type":"system","resource_names":["Health"],"actions":["read"]}]}`)
	all := mint(t, inst.URL, inst.AdminToken, `{"token_name":"s","permissions":[{"resource_type":"system","resource_names":["*"],"actions":["read"]}]}`)
	db := mint(t, inst.URL, inst.AdminToken, dbTokenBody("d", []string{"*"}, []string{"read", "write"}, ""))
	for _, tc := range []struct {
		method, path, tok string
		code              int
	}{
		{"GET", "/health", "", 401},
		{"GET", "/health", health.Token, 200},
		{"GET", "/api/v1/health", health.Token, 200},
		{"GET", "/health", db.Token, 403},
		{"GET", "/metrics", health.Token, 403},
		{"GET", "/metrics", all.Token, 200},
		{"GET", "/metrics", inst.AdminToken, 200},
		{"GET", "/ping", all.Token, 200},
		{"POST", "/ping", all.Token, 200},
		{"GET", "/ready", all.Token, 200},
		{"GET", "/ready", "", 401},
		{"GET", "/livez", "", 200},
		{"GET", "/readyz", "", 200},
	} {
		auth := ""
		if tc.tok != "" {
			auth = bearer(tc.tok)
		}
		if r := call(t, tc.method, inst.URL+tc.path, auth, ""); r.code != tc.code {
			t.Errorf("%s %s: got %d %s, want %d", tc.method, tc.path, r.code, r.body, tc.code)
		}
	}
}
