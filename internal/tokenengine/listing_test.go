package tokenengine_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func listTokens(t testing.TB, base, tok, q string) []map[string]any {
	t.Helper()
	r := call(t, http.MethodGet, base+tokenengine.PathQuerySQL+"?db=_internal&q="+url.QueryEscape(q), bearer(tok), "")
	wantCode(t, r, http.StatusOK)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil {
		t.Fatalf("listing is not a JSON array of objects: %v: %s", err, r.body)
	}
	return rows
}

func names(rows []map[string]any) string {
	var out []string
	for _, r := range rows {
		out = append(out, r["name"].(string))
	}
	return strings.Join(out, ",")
}

func TestListSystemTokens(t *testing.T) {
	inst := tokenenginetest.Start(t)
	o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("op-a-read", []string{"a", "b"}, []string{"read", "write"}, `"expiry_secs":60`))
	mint(t, inst.URL, inst.AdminToken, dbTokenBody("op-b", []string{"*"}, []string{"read"}, ""))
	mint(t, inst.URL, inst.AdminToken, dbTokenBody("it's", []string{"c"}, []string{"write"}, ""))
	mint(t, inst.URL, inst.AdminToken, `{"token_name":"sys","permissions":[{"resource_type":"system","resource_names":["health","metrics"],"actions":["read"]}]}`)

	rows := listTokens(t, inst.URL, inst.AdminToken, "SELECT * FROM system.tokens")
	if got := names(rows); got != "_admin,op-a-read,op-b,it's,sys" {
		t.Fatalf("names %s", got)
	}
	row := rows[1]
	if row["token_id"] != float64(o.ID) || row["hash"] != o.Hash[:9] || row["permissions"] != "db:a,b:read,write" {
		t.Errorf("row %v does not match token %+v", row, o)
	}
	if row["created_by_token_id"] != float64(0) || row["expiry"] == nil || row["created_at"] == nil {
		t.Errorf("row %v lacks created_by_token_id 0, expiry or created_at", row)
	}
	if _, ok := rows[2]["expiry"]; ok {
		t.Errorf("null expiry should be omitted: %v", rows[2])
	}
	if rows[0]["permissions"] != "*:*:*" || rows[4]["permissions"] != "system:health,metrics:read" {
		t.Errorf("permissions %v / %v", rows[0]["permissions"], rows[4]["permissions"])
	}
	for _, r := range rows {
		for k, v := range r {
			if s, ok := v.(string); ok && strings.HasPrefix(s, "apiv3_") {
				t.Fatalf("listing shows a token string in %s", k)
			}
		}
	}

	for q, want := range map[string]string{
		"SELECT name FROM system.tokens WHERE name = 'op-b'":                                 "op-b",
		"select name, token_id from SYSTEM.TOKENS where name like 'op-%' order by name desc": "op-b,op-a-read",
		"SELECT name FROM system.tokens WHERE name = 'it''s';":                               "it's",
		`SELECT "name" FROM "system"."tokens" WHERE permissions NOT LIKE '\*%' LIMIT 2`:      "op-a-read,op-b",
		"SELECT name FROM system.tokens WHERE expiry IS NOT NULL":                            "op-a-read",
		"SELECT name FROM system.tokens WHERE name LIKE 'op_b' AND token_id != 0":            "op-b",
		"SELECT name FROM system.tokens WHERE token_id = 2":                                  "op-b",
		"SELECT name FROM system.tokens WHERE name = 'nope'":                                 "",
	} {
		if got := names(listTokens(t, inst.URL, inst.AdminToken, q)); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	rows = listTokens(t, inst.URL, inst.AdminToken, "SELECT name, hash FROM system.tokens WHERE name = 'op-b'")
	if len(rows[0]) != 2 {
		t.Errorf("projection returned %v", rows[0])
	}

	t.Run("POST form", func(t *testing.T) {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathQuerySQL, bearer(inst.AdminToken), `{"db":"_internal","q":"SELECT name FROM system.tokens WHERE name = 'sys'","format":"json"}`)
		wantCode(t, r, http.StatusOK)
		if !strings.Contains(r.body, `"name":"sys"`) {
			t.Fatalf("POST listing: %s", r.body)
		}
	})
	t.Run("errors", func(t *testing.T) {
		get := func(q, tok string) response {
			return call(t, http.MethodGet, inst.URL+tokenengine.PathQuerySQL+"?"+q, bearer(tok), "")
		}
		wantJSONError(t, get("db=_internal&q="+url.QueryEscape("SELECT * FROM system.queries"), inst.AdminToken), 400, "only serves")
		wantJSONError(t, get("db=_internal&q="+url.QueryEscape("DROP TABLE x"), inst.AdminToken), 400, "only serves")
		wantJSONError(t, get("db=_internal&q="+url.QueryEscape("SELECT secret FROM system.tokens"), inst.AdminToken), 400, "no such column")
		wantJSONError(t, get("db=_internal&q="+url.QueryEscape("SELECT * FROM system.tokens WHERE name = 'x"), inst.AdminToken), 400, "unterminated")
		wantJSONError(t, get("db=_internal&q="+url.QueryEscape("SELECT * FROM system.tokens; DELETE"), inst.AdminToken), 400, "unsupported")
		wantJSONError(t, get("db=_internal", inst.AdminToken), 400, "q")
		wantJSONError(t, get("db=_internal&format=parquet&q=SELECT+*+FROM+system.tokens", inst.AdminToken), 400, "format")
		wantJSONError(t, get("db=mydb&q=SELECT+1", inst.AdminToken), 404, "database not found")
		wantJSONError(t, get("q=SELECT+1", inst.AdminToken), 400, "db")
		wantJSONError(t, get("db=_internal&q=SELECT+*+FROM+system.tokens", o.Token), 403, "unauthorized")
		wantJSONError(t, get("db=_internal&q=SELECT+*+FROM+system.tokens", "apiv3_x"), 401, "not authenticated")
	})
}
