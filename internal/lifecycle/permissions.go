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

// ParseSummary reads a Summarize string back into permissions (names and actions as written);
// false when it is not one.
func ParseSummary(summary string) ([]engine.Permission, bool) {
	var perms []engine.Permission
	for _, part := range strings.Fields(summary) {
		f := strings.Split(part, ":")
		if len(f) != 3 || f[1] == "" || f[2] == "" {
			return nil, false
		}
		p := engine.Permission{Type: engine.ResourceType(f[0]), Names: strings.Split(f[1], ",")}
		if p.Type != engine.ResourceDatabase && p.Type != engine.ResourceSystem {
			return nil, false
		}
		for _, a := range strings.Split(f[2], ",") {
			p.Actions = append(p.Actions, engine.Action(a))
		}
		perms = append(perms, p)
	}
	return perms, len(perms) > 0
}
