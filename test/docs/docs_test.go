// Package docs checks that the user documentation stays in step with the code.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/testenv"
)

// Every condition type and reason the API package declares is explained in troubleshooting.md.
func TestTroubleshootingCoversEveryConditionAndReason(t *testing.T) {
	root := testenv.RepoRoot()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "api", "v1alpha1", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(parsed, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
				return true
			}
			name := vs.Names[0].Name
			if !strings.HasPrefix(name, "Reason") && !strings.HasPrefix(name, "Condition") {
				return true
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			value, _ := strconv.Unquote(lit.Value)
			seen++
			if !strings.Contains(string(doc), "`"+value+"`") {
				t.Errorf("docs/troubleshooting.md does not explain %s (%q)", name, value)
			}
			return true
		})
	}
	if seen < 20 {
		t.Fatalf("found only %d condition and reason constants: the scan is broken", seen)
	}
}
