package testenv

import (
	"os"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

// OperatorBinary builds token-operator once per test binary, as `make build` does, and returns
// its path. A package that calls it runs its tests with RunTests, which removes the build.
func OperatorBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "token-operator-test-bin-")
		if buildErr == nil {
			builtBin, buildErr = BuildOperator(builtDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// RunTests runs the package's tests and removes what OperatorBinary built; TestMain passes its
// result to os.Exit.
func RunTests(m *testing.M) int {
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	return code
}
