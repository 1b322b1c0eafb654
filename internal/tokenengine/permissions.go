package tokenengine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tokenops/token-operator/internal/influxaccess"
)

// Resource types, actions and names as InfluxDB 3 Enterprise spells them on the wire.
const (
	// ResourceDB is the resource type of database permissions.
	ResourceDB = influxaccess.ResourceDB
	// ResourceSystem is the resource type of system-endpoint permissions.
	ResourceSystem = influxaccess.ResourceSystem
	// ActionRead allows queries on a database, or reading a system endpoint.
	ActionRead = influxaccess.ActionRead
	// ActionWrite allows writes to a database.
	ActionWrite = influxaccess.ActionWrite
	// Wildcard as the only resource name means every resource of the type.
	Wildcard = "*"
)

// System resource names a system token may name; the real server accepts the same set.
var systemResources = []string{"health", "metrics", "ping", "ready"}

// Permission is one grant of a token: actions on named resources of one type. Names are stored
// exactly as given; system names are lower-cased because the real server matches them
// case-insensitively.
type Permission struct {
	ResourceType string   `json:"resource_type"`
	Names        []string `json:"resource_names"`
	Actions      []string `json:"actions"`
}

// maxNames bounds one permission so that a request cannot make the in-memory index huge.
const maxNames = 1000

// validate checks a permission the way the real server does, minus the database-existence
// check (this engine has no databases); messages are meant for a person.
func (p *Permission) validate(i int) error {
	at := fmt.Sprintf("permissions[%d]", i)
	switch p.ResourceType {
	case ResourceDB, ResourceSystem:
	case "":
		return fmt.Errorf("%s: resource_type is required (db or system)", at)
	case Wildcard:
		return fmt.Errorf("%s: resource_type %q is not allowed for resource tokens; use an admin token", at, Wildcard)
	default:
		return fmt.Errorf("%s: unknown resource_type (want db or system)", at)
	}
	if len(p.Names) == 0 {
		return fmt.Errorf("%s: resource_names must name at least one resource (or %q)", at, Wildcard)
	}
	if len(p.Names) > maxNames {
		return fmt.Errorf("%s: resource_names has %d entries, at most %d are allowed", at, len(p.Names), maxNames)
	}
	for j, n := range p.Names {
		if n == Wildcard {
			if len(p.Names) > 1 {
				return fmt.Errorf("%s: %q cannot be combined with other resource names", at, Wildcard)
			}
			continue
		}
		if err := validateResourceName(n); err != nil {
			return fmt.Errorf("%s.resource_names[%d]: %w", at, j, err)
		}
		if p.ResourceType == ResourceSystem {
			p.Names[j] = strings.ToLower(n)
			if !slices.Contains(systemResources, p.Names[j]) {
				return fmt.Errorf("%s.resource_names[%d]: unknown system resource (want one of %s or %q)", at, j, strings.Join(systemResources, ", "), Wildcard)
			}
		}
	}
	if len(p.Actions) == 0 {
		return fmt.Errorf("%s: actions must list at least one action", at)
	}
	for j, a := range p.Actions {
		switch {
		case p.ResourceType == ResourceDB && (a == ActionRead || a == ActionWrite):
		case p.ResourceType == ResourceSystem && a == ActionRead:
		case p.ResourceType == ResourceSystem:
			return fmt.Errorf("%s.actions[%d]: system permissions only allow %q", at, j, ActionRead)
		default:
			return fmt.Errorf("%s.actions[%d]: unknown action (want read or write)", at, j)
		}
	}
	return nil
}

// validateResourceName refuses names no database could have and that would corrupt the
// `db:a,b:read` text form of system.tokens.
func validateResourceName(n string) error {
	if n == "" {
		return fmt.Errorf("resource name must not be empty")
	}
	if len(n) > 256 {
		return fmt.Errorf("resource name is longer than 256 bytes")
	}
	if strings.ContainsAny(n, ",:") {
		return fmt.Errorf("resource name must not contain ',' or ':'")
	}
	if hasControl(n) {
		return fmt.Errorf("resource name must not contain control characters")
	}
	return nil
}

// allows reports whether p grants action on resource name of type rt.
func (p *Permission) allows(rt, name, action string) bool {
	if p.ResourceType != rt || !slices.Contains(p.Actions, action) {
		return false
	}
	return p.Names[0] == Wildcard || slices.Contains(p.Names, name)
}

// formatPermissions renders permissions as system.tokens shows them on Enterprise:
// `db:a,b:read,write` (several permissions joined by a space); admin tokens are `*:*:*`.
func formatPermissions(admin bool, ps []Permission) string {
	if admin {
		return "*:*:*"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.ResourceType + ":" + strings.Join(p.Names, ",") + ":" + strings.Join(p.Actions, ",")
	}
	return strings.Join(parts, " ")
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
