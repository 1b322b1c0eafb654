package lifecycle

import (
	"strings"
	"testing"
	"time"
)

var boundsData = TemplateData{EngineURL: "http://e:8181", Databases: []string{"a", "b"}, Database: "a", TokenName: "k8s.ns.n.u.r1", Namespace: "ns", Name: "n"}

// Issue 16 item 4: extraKeys templates are user input; each bound is a TemplateError naming it.
func TestRenderExtraKeysBounds(t *testing.T) {
	tests := []struct {
		name, tmpl, inErr string
	}{
		{"range over an integer", `{{range 1000000000}}x{{end}}`, "range only over a field"},
		{"range over a variable holding a number", `{{$n := len .Databases}}{{range $n}}x{{end}}`, "range only over a field"},
		{"printf width", `{{printf "%999999999d" 1}}`, "function printf is not allowed"},
		{"print", `{{print .Name}}`, "function print is not allowed"},
		{"call", `{{call .Name}}`, "function call is not allowed"},
		{"nested printf", `{{join (printf "%s" .Databases) ","}}`, "function printf is not allowed"},
		{"define and template", `{{define "x"}}{{template "x"}}{{end}}{{template "x"}}`, "not allowed"},
		{"deep ranges", `{{range .Databases}}{{range $.Databases}}{{range $.Databases}}x{{end}}{{end}}{{end}}`, "range nests deeper than 2"},
		{"output per key", strings.Repeat("{{.EngineURL}}", 1000), "more than 8192 bytes, the limit per extraKeys template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := RenderExtraKeys(map[string]string{"K": tt.tmpl}, boundsData)
			if err == nil || !strings.Contains(err.Error(), tt.inErr) || !strings.Contains(err.Error(), "secret.extraKeys[K]") {
				t.Fatalf("err = %v, want one naming the key and containing %q", err, tt.inErr)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
	// Per Secret: every key within its bound, together over the Secret's.
	many := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		many[k] = strings.Repeat("x", MaxTemplateOutputBytes)
	}
	if _, err := RenderExtraKeys(many, boundsData); err == nil || !strings.Contains(err.Error(), "the limit for all extraKeys templates of a Secret") {
		t.Fatalf("per Secret: %v", err)
	}
	// What templates are for still works.
	got, err := RenderExtraKeys(map[string]string{
		"URL": `{{.EngineURL}}/{{.Database}}`, "DBS": `{{join .Databases ","}}`,
		"LOOP": `{{range $i, $d := .Databases}}{{if gt $i 0}};{{end}}{{$d}}{{end}}`, "N": `{{len .Databases}}{{if eq .Name "n"}}!{{end}}`,
	}, boundsData)
	if err != nil || string(got["URL"]) != "http://e:8181/a" || string(got["DBS"]) != "a,b" || string(got["LOOP"]) != "a;b" || string(got["N"]) != "2!" {
		t.Fatalf("RenderExtraKeys = %q, %v", got, err)
	}
}

// FuzzRenderExtraKeys: whatever the template, rendering ends quickly, never panics and never
// exceeds the output bounds.
func FuzzRenderExtraKeys(f *testing.F) {
	for _, s := range []string{`{{.EngineURL}}`, `{{range .Databases}}{{.}}{{end}}`, `{{range 10}}x{{end}}`,
		`{{printf "%9d" 1}}`, `{{join .Databases ","}}`, `{{define "a"}}{{template "a"}}{{end}}`, `{{index .Databases 5}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		if len(tmpl) > 4096 {
			return // the CRD's bound on a value
		}
		start := time.Now()
		out, err := RenderExtraKeys(map[string]string{"K": tmpl, "L": tmpl}, boundsData)
		if d := time.Since(start); d > 2*TemplateDeadline+time.Second {
			t.Fatalf("took %s", d)
		}
		if err != nil {
			return
		}
		total := 0
		for _, v := range out {
			if len(v) > MaxTemplateOutputBytes {
				t.Fatalf("%d bytes for one key", len(v))
			}
			total += len(v)
		}
		if total > MaxTemplatesOutputBytes {
			t.Fatalf("%d bytes in all", total)
		}
	})
}
