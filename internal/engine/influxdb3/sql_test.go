package influxdb3

import "testing"

func TestSQLQuoting(t *testing.T) {
	for name, want := range map[string]string{
		"a":                tokenColumns + " WHERE name = 'a'",
		"it's":             tokenColumns + " WHERE name = 'it''s'",
		"x' OR '1'='1":     tokenColumns + " WHERE name = 'x'' OR ''1''=''1'",
		`back\slash'`:      tokenColumns + ` WHERE name = 'back\slash'''`,
		"50%_off; DROP --": tokenColumns + " WHERE name = '50%_off; DROP --'",
	} {
		if got := lookupQuery(name); got != want {
			t.Errorf("lookupQuery(%q) = %q, want %q", name, got, want)
		}
	}
	for prefix, want := range map[string]string{
		"k8s.ns.":   tokenColumns + " WHERE name LIKE 'k8s.ns.%'",
		"k8s.a_b.":  tokenColumns + " WHERE name LIKE 'k8s.a%'",
		"50%":       tokenColumns + " WHERE name LIKE '50%'",
		"it's":      tokenColumns + " WHERE name LIKE 'it''s%'",
		`a\b`:       tokenColumns + " WHERE name LIKE 'a%'",
		"":          tokenColumns,
		"%anything": tokenColumns,
	} {
		if got := listQuery(prefix); got != want {
			t.Errorf("listQuery(%q) = %q, want %q", prefix, got, want)
		}
	}
}
