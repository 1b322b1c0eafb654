package lifecycle

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestOwnsTokenName(t *testing.T) {
	const uid = types.UID("1a2b3c4d-0000-4000-8000-000000000000")
	own := TokenName("monitoring", "telegraf", uid, 7)
	for _, tc := range []struct {
		name string
		want bool
	}{
		{own, true},
		{TokenName("monitoring", "telegraf", uid, 1), true},
		{TokenName("monitoring", "grafana", uid, 7), false},                         // another resource
		{TokenName("payments", "telegraf", uid, 7), false},                          // another namespace
		{TokenName("monitoring", "telegraf", "9f9f9f9f-0000", 7), false},            // a re-created resource
		{"k8s.monitoring.telegraf.1a2b3c4d.", false},                                // no revision
		{"k8s.monitoring.telegraf.1a2b3c4d.r", false},                               // empty revision
		{"k8s.monitoring.telegraf.1a2b3c4d.r7x", false},                             // trailing text
		{"k8s.monitoring.telegraf.1a2b3c4d.r7.k8s.payments.api.0f0f0f0f.r1", false}, // a suffix
		{"_admin", false},
		{"", false},
	} {
		if got := OwnsTokenName("monitoring", "telegraf", uid, tc.name); got != tc.want {
			t.Errorf("OwnsTokenName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
