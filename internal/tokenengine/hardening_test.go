package tokenengine_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// Issue 16 item 9: only the operator token regenerates _admin; a named admin gets 403, as on
// InfluxDB 3, and the operator token keeps working.
func TestHardeningNamedAdminCannotRegenerateOperatorToken(t *testing.T) {
	inst := tokenenginetest.Start(t)
	r := call(t, http.MethodPost, inst.URL+tokenengine.PathNamedAdminToken, bearer(inst.AdminToken), `{"token_name":"ops"}`)
	wantCode(t, r, http.StatusCreated)
	var named tokenengine.TokenObject
	if err := json.Unmarshal([]byte(r.body), &named); err != nil {
		t.Fatal(err)
	}
	wantJSONError(t, call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, bearer(named.Token), ""), http.StatusForbidden, "only the operator token")
	mint(t, inst.URL, inst.AdminToken, dbTokenBody("still", []string{"a"}, []string{"read"}, ""))
}

// Regenerating _admin keeps the expiry the admin token file gave it.
func TestHardeningRegenerateKeepsOperatorTokenExpiry(t *testing.T) {
	admin := tokenenginetest.NewTokenString(t)
	file := filepath.Join(t.TempDir(), "admin.json")
	expiry := time.Now().Add(48 * time.Hour).UnixMilli()
	if err := os.WriteFile(file, []byte(`{"token":"`+admin+`","expiry_millis":`+jsonInt(expiry)+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := tokenengine.Open(tokenengine.Config{DataDir: t.TempDir(), AdminTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, e)
	q := "SELECT expiry FROM system.tokens WHERE name = '_admin'"
	before := listTokens(t, srv, admin, q)
	if before[0]["expiry"] == nil {
		t.Fatalf("the file's expiry is not applied: %v", before)
	}
	r := call(t, http.MethodPost, srv+tokenengine.PathRegenerateAdmin, bearer(admin), "")
	wantCode(t, r, http.StatusCreated)
	var n tokenengine.TokenObject
	_ = json.Unmarshal([]byte(r.body), &n)
	after := listTokens(t, srv, n.Token, q)
	if after[0]["expiry"] != before[0]["expiry"] {
		t.Fatalf("regenerate changed the operator token's expiry from %v to %v", before[0]["expiry"], after[0]["expiry"])
	}
}

// An admin token file must hold apiv3_ and at least 32 random bytes' worth of base64url; the
// error never quotes the token. What the chart (randAlphaNum 86) and dev generate still pass.
func TestHardeningAdminTokenFileStrength(t *testing.T) {
	alnum86 := "apiv3_" + strings.Repeat("Ab3", 28) + "xy" // the chart's shape: 86 alphanumerics
	for name, tc := range map[string]struct {
		token string
		ok    bool
	}{
		"minted by the engine (dev)":  {tokenenginetest.NewTokenString(t), true},
		"the chart's randAlphaNum 86": {alnum86, true},
		"43 base64url characters":     {"apiv3_" + strings.Repeat("-_aZ9", 8) + "abc", true},
		"too short":                   {"apiv3_secretsecret", false},
		"42 characters":               {"apiv3_" + strings.Repeat("a", 42), false},
		"not base64url":               {"apiv3_" + strings.Repeat("a", 50) + "+/=", false},
		"no prefix":                   {strings.Repeat("a", 90), false},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "admin.json")
			if err := os.WriteFile(file, []byte(`{"token":"`+tc.token+`"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := tokenengine.Open(tokenengine.Config{DataDir: t.TempDir(), AdminTokenFile: file})
			if e != nil {
				_ = e.Close()
			}
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Open: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("Open accepted a weak admin token")
			case !tc.ok && (strings.Contains(err.Error(), tc.token) || !strings.Contains(err.Error(), "at least 43 base64url characters")):
				t.Fatalf("error %q: want the bound named and the token not quoted", err)
			}
		})
	}
}

// Error bodies never echo request content beyond the token name.
func TestHardeningErrorsDoNotEchoRequestContent(t *testing.T) {
	inst := tokenenginetest.Start(t)
	const canary = "CANARYxyz"
	bodies := []string{
		`{"token_name":"x","permissions":[],"` + canary + `":1}`,
		`{"token_name":"x","permissions":[{"resource_type":"` + canary + `","resource_names":["a"],"actions":["read"]}]}`,
		`{"token_name":"x","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["` + canary + `"]}]}`,
		`{"token_name":"x","permissions":[{"resource_type":"system","resource_names":["` + canary + `"],"actions":["read"]}]}`,
		`{"token_name":"x","permissions":[{"resource_type":"db","resource_names":["a:` + canary + `"],"actions":["read"]}]}`,
		`{"token_name":"x","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read"]}],"expiry_secs":"` + canary + `"}`,
		`{"token_name":"x","expiry_secs":1234567.891` + canary,
		`[` + canary,
	}
	for _, b := range bodies {
		r := call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), b)
		if r.code < 400 || strings.Contains(r.body, canary) || strings.Contains(r.body, "1234567") {
			t.Errorf("body %s: %d %s", b, r.code, r.body)
		}
	}
	for _, q := range []string{
		"db=" + canary + "&q=SELECT+1",
		"db=_internal&q=" + url.QueryEscape("SELECT "+canary+" FROM system.tokens"),
		"db=_internal&q=" + url.QueryEscape("SELECT * FROM system.tokens "+canary),
		"db=_internal&q=" + url.QueryEscape("SELECT * FROM system.tokens WHERE name ~ '"+canary+"'"),
		"db=_internal&q=" + url.QueryEscape("SELECT * FROM system.tokens WHERE name < '"+canary+"'"),
	} {
		r := call(t, http.MethodGet, inst.URL+tokenengine.PathQuerySQL+"?"+q, bearer(inst.AdminToken), "")
		if r.code < 400 || strings.Contains(r.body, canary) {
			t.Errorf("query %s: %d %s", q, r.code, r.body)
		}
	}
}

func newServer(t *testing.T, e *tokenengine.Engine) string {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { srv.Close(); _ = e.Close() })
	return srv.URL
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }
