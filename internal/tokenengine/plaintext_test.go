package tokenengine_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestPlaintextOnlyInCreateResponse exercises every path a token passes through and then scans
// the logs (at debug level), the /metrics output, the listing and the raw store file.
func TestPlaintextOnlyInCreateResponse(t *testing.T) {
	var logs testenv.Buffer // safe for the server's goroutines
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inst := tokenenginetest.Start(t, tokenenginetest.WithLogger(logger))
	var secrets []string
	secrets = append(secrets, inst.AdminToken)

	o := mint(t, inst.URL, inst.AdminToken, dbTokenBody("rw", []string{"a"}, []string{"read", "write"}, `"expiry_secs":600`))
	sys := mint(t, inst.URL, inst.AdminToken, `{"token_name":"sys","permissions":[{"resource_type":"system","resource_names":["*"],"actions":["read"]}]}`)
	secrets = append(secrets, o.Token, sys.Token)
	r := call(t, http.MethodPost, inst.URL+tokenengine.PathNamedAdminToken, bearer(inst.AdminToken), `{"token_name":"ops"}`)
	wantCode(t, r, http.StatusCreated)
	secrets = append(secrets, between(r.body, `"token":"`, `"`))

	// Every way a token is presented, including the failing ones.
	wantCode(t, authorize(t, inst.URL, o.Token, "a", "write"), 204)
	wantCode(t, authorize(t, inst.URL, o.Token, "b", "write"), 403)
	wantCode(t, call(t, http.MethodGet, inst.URL+tokenengine.PathAuthorize+"/nginx", "", "", "X-Original-URI", "/query?db=a&q=show+measurements&p="+url.QueryEscape(o.Token), "X-Original-Method", "GET"), 200)
	wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAuthorize+"/envoy/write?db=a&p="+url.QueryEscape(o.Token), "", ""), 200)
	wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAuthorize+"/envoy/write?db=b&p="+url.QueryEscape(o.Token), "", ""), 403)
	wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathAuthorize+"/envoy/write?db=a&p="+url.QueryEscape(o.Token), bearer(o.Token), ""), 400)
	wantCode(t, call(t, http.MethodGet, inst.URL+tokenengine.PathAuthorize+"?db=a&action=read", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:"+o.Token)), ""), 204)
	wantCode(t, call(t, http.MethodGet, inst.URL+tokenengine.PathAuthorize+"?db=a&action=read", "bearer "+o.Token, ""), 400)
	wantCode(t, call(t, http.MethodGet, inst.URL+"/health", bearer(sys.Token), ""), 200)
	wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(o.Token), dbTokenBody("x", []string{"a"}, []string{"read"}, "")), 403)
	wantCode(t, call(t, http.MethodPost, inst.URL+tokenengine.PathResourceToken, bearer(inst.AdminToken), `{"token_name":"`+o.Token+`","bogus":1}`), 400)

	listing := call(t, http.MethodGet, inst.URL+tokenengine.PathQuerySQL+"?db=_internal&q=SELECT+*+FROM+system.tokens", bearer(inst.AdminToken), "")
	wantCode(t, listing, 200)
	r = call(t, http.MethodPost, inst.URL+tokenengine.PathRegenerateAdmin, bearer(inst.AdminToken), "")
	wantCode(t, r, http.StatusCreated)
	newAdmin := between(r.body, `"token":"`, `"`)
	secrets = append(secrets, newAdmin)
	metrics := call(t, http.MethodGet, inst.URL+"/metrics", bearer(sys.Token), "")
	wantCode(t, metrics, 200)
	wantCode(t, call(t, http.MethodDelete, inst.URL+tokenengine.PathDeleteToken+"?token_name=rw", bearer(newAdmin), ""), 200)

	inst.Close() // flush and close the store before reading its bytes
	store, err := os.ReadFile(filepath.Join(inst.DataDir, tokenengine.StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	if logs.String() == "" || !strings.Contains(metrics.body, "tokenengine_authorize_decisions_total") {
		t.Fatal("nothing was logged or measured; the scan would prove nothing")
	}
	for _, s := range secrets {
		if !strings.HasPrefix(s, tokenengine.TokenPrefix) {
			t.Fatalf("bad secret %q captured", s)
		}
		body := strings.TrimPrefix(s, tokenengine.TokenPrefix)
		raw, _ := base64.RawURLEncoding.DecodeString(body)
		for where, data := range map[string][]byte{"logs": []byte(logs.String()), "metrics": []byte(metrics.body), "listing": []byte(listing.body), "store file": store} {
			if bytes.Contains(data, []byte(body)) || bytes.Contains(data, raw) || bytes.Contains(data, []byte(url.QueryEscape(body))) {
				t.Errorf("a token's plaintext appears in the %s", where)
			}
		}
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}
