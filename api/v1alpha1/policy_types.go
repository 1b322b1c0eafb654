package v1alpha1

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// EnginePolicy limits what tokens may ask of an engine, namespace by namespace: which databases
// (or system resources) and how long a token may live. It is checked before every mint and
// again whenever the policy changes; a token it no longer permits is revoked. Omitted: every
// token the engine serves may ask for anything (allowedNamespaces still applies).
// +kubebuilder:validation:XValidation:rule="self.rules.all(r, self.rules.filter(s, s.name == r.name).size() == 1)",message="each rule name may appear only once; rename the duplicate"
type EnginePolicy struct {
	// rules are tried in order; the first rule whose namespaces match the token's namespace
	// decides, and later rules are not consulted. A token in a namespace no rule matches is
	// NotPermitted. End with a rule without namespaces for a catch-all.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Rules []PolicyRule `json:"rules"`
}

// PolicyRule maps namespaces to what their tokens may request.
// +kubebuilder:validation:XValidation:rule="has(self.databases) || has(self.systemResources) || (has(self.allowAllDatabases) && self.allowAllDatabases) || (has(self.allowAllSystemResources) && self.allowAllSystemResources)",message="a rule must permit something: set databases and/or systemResources (or allowAllDatabases / allowAllSystemResources); a namespace that may use nothing belongs outside allowedNamespaces"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaces) || has(self.namespaces.matchNames) || has(self.namespaces.selector)",message="namespaces needs matchNames or selector; omit namespaces for a rule that matches every namespace"
type PolicyRule struct {
	// name identifies the rule in status messages and events, e.g. team-a.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a short name of lowercase letters, digits and '-', e.g. team-a"
	Name string `json:"name"`

	// namespaces the rule applies to: names with `*` globs, or a label selector (not both), as in
	// allowedNamespaces. Omitted: every namespace. Must be omitted on a TokenEngine, which serves
	// only its own namespace.
	// +optional
	Namespaces *AllowedNamespaces `json:"namespaces,omitempty"`

	// databases are the database names a DatabaseToken in these namespaces may request, as
	// patterns in which `*` matches any run of characters (e.g. team-a-*, or * for every named
	// database). A token asking for every database (databases ["*"]) is permitted only by
	// allowAllDatabases, never by a pattern. Omitted: no named databases.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(p, p.matches('^[-A-Za-z0-9_/*]+$'))",message="database patterns may hold letters, digits, '_', '-', '/' and '*' (any run of characters), e.g. team-a-* or *"
	Databases []string `json:"databases,omitempty"`

	// systemResources are the system resources a SystemToken in these namespaces may read:
	// health, metrics, ping, ready, or "*" for each of them. A token asking for every system
	// resource (resources ["*"]) is permitted only by allowAllSystemResources. Omitted: no
	// named system resources.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	SystemResources []SystemResource `json:"systemResources,omitempty"`

	// allowAllDatabases permits DatabaseTokens asking for every database (databases ["*"]),
	// which includes databases created later, and every named database. Default false.
	// +optional
	AllowAllDatabases bool `json:"allowAllDatabases,omitempty"`

	// allowAllSystemResources permits SystemTokens asking for every system resource
	// (resources ["*"]), and each named one. Default false.
	// +optional
	AllowAllSystemResources bool `json:"allowAllSystemResources,omitempty"`

	// actions are the actions tokens in these namespaces may ask for, on every database and
	// system resource the rule permits: read, write. A token is permitted only if every action
	// of every permission it asks for is listed (a SystemToken reads). Omitted: read and write.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	Actions []Action `json:"actions,omitempty"`

	// maxExpiresAfter is the longest spec.expiresAfter a token may ask for. When set, a token
	// without expiresAfter (one that never expires) is not permitted. Omitted: no limit.
	// +optional
	MaxExpiresAfter *Duration `json:"maxExpiresAfter,omitempty"`
}

// durationShape and durationPart mirror the CEL rules on Duration.
var (
	durationShape = regexp.MustCompile(`^([0-9]{1,6}[smhdwy])+$`)
	durationPart  = regexp.MustCompile(`([0-9]{1,6})([smhdwy])`)
)

// durationUnits are influxdb3's --expiry units; a year is 365.25 days, as in the CEL rules.
var durationUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 31557600 * time.Second,
}

// Parse converts a Duration such as 30m, 7d, 1y or 1d12h to a time.Duration; "" is zero.
func (d Duration) Parse() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	if !durationShape.MatchString(string(d)) {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 12h, 7d or 1y", string(d))
	}
	var total time.Duration
	for _, m := range durationPart.FindAllStringSubmatch(string(d), -1) {
		n, _ := strconv.Atoi(m[1]) // at most six digits: cannot fail or overflow
		total += time.Duration(n) * durationUnits[m[2]]
	}
	return total, nil
}
