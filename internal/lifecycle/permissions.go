package lifecycle

import (
	"slices"
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

// CanonicalSummary is summary in a canonical form: names and actions of each permission sorted
// and without repeats, permissions sorted and without repeats. Two summaries that grant the same
// thing written in another order (as GitOps tools reorder lists) have the same canonical form. A
// string that is not a summary is returned unchanged.
func CanonicalSummary(summary string) string {
	perms, ok := ParseSummary(summary)
	if !ok {
		return summary
	}
	parts := make([]string, 0, len(perms))
	for _, p := range perms {
		names := slices.Compact(slices.Sorted(slices.Values(p.Names)))
		actions := make([]string, len(p.Actions))
		for i, a := range p.Actions {
			actions[i] = string(a)
		}
		actions = slices.Compact(slices.Sorted(slices.Values(actions)))
		parts = append(parts, string(p.Type)+":"+strings.Join(names, ",")+":"+strings.Join(actions, ","))
	}
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(parts))), " ")
}

// SamePermissions reports whether two summaries grant the same permissions, whatever the order
// of their permissions, names and actions. Status records keep the summary they were minted with
// (any order, as earlier releases wrote it): comparing canonical forms means neither a reordered
// spec nor that older format mints a successor.
func SamePermissions(a, b string) bool {
	return a == b || CanonicalSummary(a) == CanonicalSummary(b)
}
