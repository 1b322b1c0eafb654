package tokenengine_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestKillDuringCreatesKeepsStoreConsistent runs the engine as a child process, SIGKILLs it in
// the middle of a stream of creates and checks that the reopened store holds every token the
// client got a 201 for, and that those tokens still authorize.
func TestKillDuringCreatesKeepsStoreConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dataDir := t.TempDir()
	admin := tokenenginetest.NewTokenString(t)
	adminFile := filepath.Join(t.TempDir(), "admin.json")
	if err := os.WriteFile(adminFile, []byte(`{"token":"`+admin+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDataDir+"="+dataDir, envChildAdminFile+"="+adminFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("child engine printed no address")
	}
	base := "http://" + sc.Text()

	type minted struct{ name, token string }
	var (
		mu  sync.Mutex
		got []minted
		wg  sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequest(http.MethodPost, base+tokenengine.PathResourceToken, stringsReader(dbTokenBody(name, []string{"a"}, []string{"read"}, "")))
				req.Header.Set("Authorization", bearer(admin))
				resp, err := client.Do(req)
				if err != nil {
					return // the engine was killed
				}
				if resp.StatusCode == http.StatusCreated {
					var o tokenengine.TokenObject
					if decodeJSON(resp, &o) == nil {
						mu.Lock()
						got = append(got, minted{name, o.Token})
						mu.Unlock()
					}
				} else {
					_ = resp.Body.Close()
				}
			}
		})
	}
	// Kill once a good number of commits went through, while creates are in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wg.Wait()
	if len(got) == 0 {
		t.Fatal("no token was created before the kill")
	}

	e, err := tokenengine.Open(tokenengine.Config{DataDir: dataDir})
	if err != nil {
		t.Fatalf("reopening the store after kill -9: %v", err)
	}
	defer func() { _ = e.Close() }()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	listed := map[string]bool{}
	for _, r := range listTokens(t, srv.URL, admin, "SELECT name FROM system.tokens") {
		listed[r["name"].(string)] = true
	}
	for _, m := range got {
		if !listed[m.name] {
			t.Errorf("token %s got a 201 but is not in the store", m.name)
			continue
		}
		wantCode(t, authorize(t, srv.URL, m.token, "a", "read"), http.StatusNoContent)
	}
	t.Logf("%d tokens acknowledged before SIGKILL, %d records in the reopened store", len(got), len(listed))
}
