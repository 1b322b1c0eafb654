package influxdb1

import (
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
)

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:        `"plain"`,
		`it's`:         `"it's"`,
		`say "hi"`:     `"say \"hi\""`,
		`back\slash`:   `"back\\slash"`,
		"new\nline":    `"new\nline"`,
		`x"; DROP --"`: `"x\"; DROP --\""`,
	} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got, want := QuoteString(`p'w\`), `'p\'w\\'`; got != want {
		t.Errorf("QuoteString = %s, want %s", got, want)
	}
}

// TestGrants: read+write is one GRANT ALL, because GRANT replaces the privilege.
func TestGrants(t *testing.T) {
	r, w := engine.ActionRead, engine.ActionWrite
	req := engine.MintRequest{Name: "u", Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"a", "b"}, Actions: []engine.Action{r}},
		{Type: engine.ResourceDatabase, Names: []string{"b", "c"}, Actions: []engine.Action{w}},
	}}
	gs, err := grants(req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range gs {
		got = append(got, g.statement("u"))
	}
	want := []string{`GRANT READ ON "a" TO "u"`, `GRANT ALL ON "b" TO "u"`, `GRANT WRITE ON "c" TO "u"`}
	if len(got) != len(want) {
		t.Fatalf("grants = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("grant %d = %s, want %s", i, got[i], want[i])
		}
	}
}
