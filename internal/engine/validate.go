package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SystemResources are the system endpoints a ResourceSystem permission may name (besides
// Wildcard). InfluxDB 3 accepts them case-insensitively; we accept only the lower-case spelling.
var SystemResources = []string{"health", "metrics", "ping", "ready"}

// Validate checks that req is well-formed in our own permission model, independent of any
// engine: a name, at least one permission, known types and actions, system permissions
// read-only on known endpoints, and a wildcard never mixed with names. Adapters call it before
// talking to the engine so that a malformed request is Permanent everywhere, instead of whatever
// status a given server happens to answer (InfluxDB 3 Core answers some of these with a 500,
// which would otherwise be retried forever as Transient).
func (r MintRequest) Validate() error {
	if strings.TrimSpace(r.Name) == "" {
		return PermanentErrorf("token name is empty")
	}
	if r.TTL < 0 {
		return PermanentErrorf("token %q: negative lifetime %s", r.Name, r.TTL)
	}
	if len(r.Permissions) == 0 {
		return PermanentErrorf("token %q: no permissions", r.Name)
	}
	for i, p := range r.Permissions {
		if err := p.validate(); err != nil {
			return PermanentErrorf("token %q: permission %d: %s", r.Name, i, err)
		}
	}
	return nil
}

func (p Permission) validate() error {
	if len(p.Names) == 0 {
		return fmt.Errorf("no resource names")
	}
	if slices.Contains(p.Names, Wildcard) && len(p.Names) > 1 {
		return fmt.Errorf("%q cannot be mixed with names", Wildcard)
	}
	if len(p.Actions) == 0 {
		return fmt.Errorf("no actions")
	}
	for _, n := range p.Names {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("empty resource name")
		}
	}
	switch p.Type {
	case ResourceDatabase:
		for _, a := range p.Actions {
			if a != ActionRead && a != ActionWrite {
				return fmt.Errorf("unknown action %q (want read or write)", a)
			}
		}
	case ResourceSystem:
		for _, a := range p.Actions {
			if a != ActionRead {
				return fmt.Errorf("system resources are read-only, not %q", a)
			}
		}
		for _, n := range p.Names {
			if n != Wildcard && !slices.Contains(SystemResources, n) {
				return fmt.Errorf("unknown system resource %q (want one of %s or %q)",
					n, strings.Join(SystemResources, ", "), Wildcard)
			}
		}
	default:
		return fmt.Errorf("unknown resource type %q (want %q or %q)", p.Type, ResourceDatabase, ResourceSystem)
	}
	return nil
}

// Allows reports whether the permissions grant action a on the resource of type t named name.
// It is the authorization rule of InfluxDB 3 resource tokens; the fake engine and tests use it.
func Allows(perms []Permission, t ResourceType, name string, a Action) bool {
	for _, p := range perms {
		if p.Type != t || !slices.Contains(p.Actions, a) {
			continue
		}
		if slices.Contains(p.Names, Wildcard) || slices.Contains(p.Names, name) {
			return true
		}
	}
	return false
}

// ExpiresAt returns created+ttl, or nil when ttl is zero (no expiry).
func ExpiresAt(created time.Time, ttl time.Duration) *time.Time {
	if ttl <= 0 {
		return nil
	}
	t := created.Add(ttl)
	return &t
}
