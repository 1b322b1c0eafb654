package kubestore

import (
	"testing"
	"time"
)

func TestReadiness(t *testing.T) {
	gap := 2 * time.Second
	for name, tc := range map[string]struct {
		synced, watching bool
		down             time.Duration
		ready            bool
	}{
		"not synced yet":                 {false, true, 0, false},
		"not synced, watch never opened": {false, false, time.Hour, false},
		"synced and watching":            {true, true, time.Hour, true},
		"watch down within the gap":      {true, false, gap, true},
		"watch down longer than the gap": {true, false, gap + time.Millisecond, false},
	} {
		if err := readiness(tc.synced, tc.watching, tc.down, gap); (err == nil) != tc.ready {
			t.Errorf("%s: %v, want ready=%t", name, err, tc.ready)
		}
	}
}

func TestOlderRV(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		older bool
	}{
		{"9", "10", true}, // numeric, not lexical
		{"10", "9", false},
		{"10", "10", false},
		{"", "10", false}, // unknown forms never hide an event
		{"abc", "10", false},
	} {
		if got := olderRV(tc.a, tc.b); got != tc.older {
			t.Errorf("olderRV(%q, %q) = %t, want %t", tc.a, tc.b, got, tc.older)
		}
	}
}
