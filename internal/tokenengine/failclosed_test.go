package tokenengine_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// flakyStore is a real BoltStore whose Ready the test switches, standing in for a kubernetes
// store whose watch broke.
type flakyStore struct {
	*tokenengine.BoltStore
	down atomic.Bool
}

func (s *flakyStore) Ready() error {
	if s.down.Load() {
		return errors.New("watch down")
	}
	return nil
}

// TestStoreNotReadyFailsClosed: while the store is not ready every request but the probes gets
// 503 (a valid token is not let through, nor refused as revoked), /readyz is 503 and /livez 200;
// once ready again the same token authorizes.
func TestStoreNotReadyFailsClosed(t *testing.T) {
	bs, err := tokenengine.OpenBoltStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{BoltStore: bs}
	admin := tokenenginetest.NewTokenString(t)
	file := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(file, []byte(`{"token":"`+admin+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := tokenengine.Open(tokenengine.Config{Store: st, AdminTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	tok := mint(t, srv.URL, admin, dbTokenBody("a", []string{"x"}, []string{"read"}, ""))

	st.down.Store(true)
	wantJSONError(t, authorize(t, srv.URL, tok.Token, "x", "read"), http.StatusServiceUnavailable, "not in sync")
	wantJSONError(t, authorize(t, srv.URL, "apiv3_unknown", "x", "read"), http.StatusServiceUnavailable, "not in sync")
	wantCode(t, call(t, http.MethodPost, srv.URL+tokenengine.PathResourceToken, bearer(admin), dbTokenBody("b", []string{"x"}, []string{"read"}, "")), http.StatusServiceUnavailable)
	wantCode(t, call(t, http.MethodDelete, srv.URL+tokenengine.PathDeleteToken+"?token_name=a", bearer(admin), ""), http.StatusServiceUnavailable)
	wantCode(t, call(t, http.MethodGet, srv.URL+"/metrics", bearer(admin), ""), http.StatusServiceUnavailable)
	wantCode(t, call(t, http.MethodGet, srv.URL+tokenengine.PathReadyz, "", ""), http.StatusServiceUnavailable)
	wantCode(t, call(t, http.MethodGet, srv.URL+tokenengine.PathLivez, "", ""), http.StatusOK)

	st.down.Store(false)
	wantCode(t, authorize(t, srv.URL, tok.Token, "x", "read"), http.StatusNoContent)
	wantCode(t, call(t, http.MethodGet, srv.URL+tokenengine.PathReadyz, "", ""), http.StatusOK)
	m := call(t, http.MethodGet, srv.URL+"/metrics", bearer(admin), "")
	for _, want := range []string{`tokenengine_authorize_decisions_total{decision="unavailable"} 2`, "tokenengine_store_ready 1"} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
