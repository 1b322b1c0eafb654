package enginetest

import (
	"slices"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
)

// testList: List returns exactly the names with the prefix, also when the prefix contains SQL
// quotes or LIKE metacharacters (names are user-controlled).
func testList(t *testing.T, s *suite) {
	parts := []string{"a", "b", "it's", "its", "50%_off", "50abc", "under_score", "underXscore"}
	ids := map[string]string{}
	for _, p := range parts {
		m := s.mint(readDB(s.name(p)))
		ids[m.Name] = m.ID
	}
	for prefix, want := range map[string][]string{
		s.prefix:                parts,
		s.prefix + "it's":       {"it's"},
		s.prefix + "50%":        {"50%_off"},
		s.prefix + "under_":     {"under_score"},
		s.prefix + "a.":         {"a"},
		s.prefix + "zzz":        nil,
		s.prefix + "'; DROP --": nil,
	} {
		infos, err := s.Engine.List(s.ctx(), prefix)
		if err != nil {
			s.checkError(err)
			t.Errorf("List(%q): %v", prefix, err)
			continue
		}
		var got []string
		for _, i := range infos {
			if id, ok := ids[i.Name]; ok && id != i.ID {
				t.Errorf("List(%q): %q has ID %q, Mint said %q", prefix, i.Name, i.ID, id)
			}
			got = append(got, i.Name)
		}
		var wantNames []string
		for _, w := range want {
			wantNames = append(wantNames, s.name(w))
		}
		slices.Sort(got)
		slices.Sort(wantNames)
		if !slices.Equal(got, wantNames) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, wantNames)
		}
	}
	if _, err := s.lookup(s.name("it's")); err != nil {
		t.Errorf("Lookup of a name with a quote: %v", err)
	}
	_, err := s.lookup(s.name("it") + "' OR '1'='1")
	s.wantKind("Lookup of an injection attempt", err, engine.NotFound)
}
