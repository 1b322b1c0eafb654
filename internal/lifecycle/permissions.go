package lifecycle

import (
	"strings"

	"github.com/tokenops/token-operator/internal/engine"
)

// Summarize renders permissions in influxdb3's RESOURCE:NAMES:ACTIONS notation for
// status.permissions (the PERMISSIONS printer column), one entry per permission separated by
// spaces: "db:telemetry,logs:write", "system:metrics:read".
func Summarize(perms []engine.Permission) string {
	parts := make([]string, 0, len(perms))
	for _, p := range perms {
		actions := make([]string, len(p.Actions))
		for i, a := range p.Actions {
			actions[i] = string(a)
		}
		parts = append(parts, string(p.Type)+":"+strings.Join(p.Names, ",")+":"+strings.Join(actions, ","))
	}
	return strings.Join(parts, " ")
}
