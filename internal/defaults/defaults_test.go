package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	for _, tc := range []struct {
		v, def, want time.Duration
	}{
		{v: 0, def: time.Minute, want: time.Minute},
		{v: -time.Second, def: time.Minute, want: time.Minute},
		{v: time.Second, def: time.Minute, want: time.Second},
	} {
		if got := Positive(tc.v, tc.def); got != tc.want {
			t.Errorf("Positive(%v, %v) = %v, want %v", tc.v, tc.def, got, tc.want)
		}
	}
	if got := Positive(0, 4); got != 4 {
		t.Errorf("Positive(0, 4) = %d, want 4", got)
	}
}
