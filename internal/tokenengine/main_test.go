package tokenengine_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
)

// envChildDataDir makes the test binary run the engine instead of the tests; the crash test
// re-executes itself with it so that it can SIGKILL a real engine process.
const envChildDataDir = "TOKENENGINE_TEST_CHILD_DATA_DIR"

// envChildAdminFile is the admin token file of the child engine.
const envChildAdminFile = "TOKENENGINE_TEST_CHILD_ADMIN_FILE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChildDataDir); dir != "" {
		runChildEngine(dir, os.Getenv(envChildAdminFile))
		return
	}
	os.Exit(m.Run())
}

// runChildEngine serves until killed and prints the bound address on stdout.
func runChildEngine(dir, adminFile string) {
	err := tokenengine.Serve(context.Background(), tokenengine.ServeConfig{
		Config: tokenengine.Config{DataDir: dir, AdminTokenFile: adminFile, Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))},
		Listen: "127.0.0.1:0",
		OnListening: func(a net.Addr) {
			fmt.Println(a.String())
		},
	})
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
