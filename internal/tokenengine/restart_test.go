package tokenengine_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestRestartKeepsTokens closes the bbolt file and opens it again in a new engine.
func TestRestartKeepsTokens(t *testing.T) {
	dir := t.TempDir()
	admin := tokenenginetest.NewTokenString(t)
	file := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(file, []byte(`{"token":"`+admin+`","name":"_admin"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() (*tokenengine.Engine, *httptest.Server) {
		e, err := tokenengine.Open(tokenengine.Config{DataDir: dir, AdminTokenFile: file})
		if err != nil {
			t.Fatal(err)
		}
		return e, httptest.NewServer(e.Handler())
	}
	e, srv := open()
	a := mint(t, srv.URL, admin, dbTokenBody("a", []string{"x"}, []string{"read"}, `"expiry_secs":3600`))
	b := mint(t, srv.URL, admin, dbTokenBody("b", []string{"y"}, []string{"write"}, ""))
	wantCode(t, call(t, http.MethodDelete, srv.URL+tokenengine.PathDeleteToken+"?token_name=b", bearer(admin), ""), http.StatusOK)
	before := listTokens(t, srv.URL, admin, "SELECT * FROM system.tokens")
	srv.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, srv = open()
	defer func() { srv.Close(); _ = e.Close() }()
	wantCode(t, authorize(t, srv.URL, a.Token, "x", "read"), http.StatusNoContent)
	wantCode(t, authorize(t, srv.URL, b.Token, "y", "write"), http.StatusUnauthorized)
	after := listTokens(t, srv.URL, admin, "SELECT * FROM system.tokens")
	if len(after) != len(before) || after[1]["hash"] != before[1]["hash"] || after[1]["expiry"] != before[1]["expiry"] {
		t.Fatalf("listing changed across restart:\n%v\n%v", before, after)
	}
	// ids keep counting after a restart.
	if c := mint(t, srv.URL, admin, dbTokenBody("c", []string{"z"}, []string{"read"}, "")); c.ID <= b.ID {
		t.Fatalf("id %d reused (b had %d)", c.ID, b.ID)
	}
}

// TestAdminTokenFileRotation shows the file is authoritative: a new file rotates _admin.
func TestAdminTokenFileRotation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "admin.json")
	write := func(tok string) {
		if err := os.WriteFile(file, []byte(`{"token":"`+tok+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first, second := tokenenginetest.NewTokenString(t), tokenenginetest.NewTokenString(t)
	write(first)
	e, err := tokenengine.Open(tokenengine.Config{DataDir: dir, AdminTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.Close()
	write(second)
	e, err = tokenengine.Open(tokenengine.Config{DataDir: dir, AdminTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer func() { srv.Close(); _ = e.Close() }()
	wantCode(t, authorize(t, srv.URL, first, "x", "read"), http.StatusUnauthorized)
	wantCode(t, authorize(t, srv.URL, second, "x", "read"), http.StatusNoContent)

	write("not-a-token")
	if _, err := tokenengine.Open(tokenengine.Config{DataDir: t.TempDir(), AdminTokenFile: file}); err == nil {
		t.Fatal("an admin token file without the apiv3_ prefix was accepted")
	}
}
