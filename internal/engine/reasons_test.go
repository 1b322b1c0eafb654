package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every condition reason an adapter sets is a constant of the API package (tokensv1.Reason*), so
// the reasons users see are the ones docs/troubleshooting.md documents: no adapter may spell one
// as a string literal (issue 14 item 6: "Unsupported" was written out four times).
func TestAdapterReasonsAreAPIConstants(t *testing.T) {
	literal := regexp.MustCompile(`WithReason\("|Reason:\s+"`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if literal.MatchString(line) {
				t.Errorf("%s:%d sets a reason from a string literal; use the tokensv1.Reason* constant: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
