package tokenengine_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestShutdownDelayDrains: after the stop signal, an engine with a shutdown delay keeps
// answering (a token still authorizes, on a new connection too) while /readyz says 503 and every
// response closes its connection; after the delay the port closes.
func TestShutdownDelayDrains(t *testing.T) {
	admin := tokenenginetest.NewTokenString(t)
	file := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(file, []byte(`{"token":"`+admin+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const delay = 1500 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- tokenengine.Serve(ctx, tokenengine.ServeConfig{
			Config: tokenengine.Config{DataDir: t.TempDir(), AdminTokenFile: file},
			Listen: "127.0.0.1:0", ShutdownDelay: delay,
			OnListening: func(a net.Addr) { addr <- a },
		})
	}()
	url := "http://" + (<-addr).String()
	tok := mint(t, url, admin, dbTokenBody("drained", []string{"db1"}, []string{"read"}, "")).Token
	authz := url + tokenengine.PathAuthorize + "?db=db1&action=read"
	wantCode(t, call(t, http.MethodGet, authz, bearer(tok), ""), http.StatusNoContent)
	wantCode(t, call(t, http.MethodGet, url+tokenengine.PathReadyz, "", ""), http.StatusOK)

	stopped := time.Now()
	stop()
	time.Sleep(100 * time.Millisecond)
	http.DefaultClient.CloseIdleConnections() // the next call dials anew
	req, _ := http.NewRequest(http.MethodGet, authz, nil)
	req.Header.Set("Authorization", bearer(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("authorize while draining: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !resp.Close {
		t.Errorf("authorize while draining: %d, closes the connection: %t; want 204 and true", resp.StatusCode, resp.Close)
	}
	wantCode(t, call(t, http.MethodGet, url+tokenengine.PathReadyz, "", ""), http.StatusServiceUnavailable)

	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopped); d < delay {
		t.Errorf("the engine stopped %s after the signal, before its %s delay", d, delay)
	}
	if _, err := net.DialTimeout("tcp", url[len("http://"):], time.Second); err == nil {
		t.Error("the port still accepts connections after the shutdown")
	}
}
