package engineref

import (
	"fmt"
	"slices"
	"strings"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// Request is what a token asks of an engine, checked against the engine's policy.
type Request struct {
	// Databases are the database names a DatabaseToken asks for ("*": every database).
	Databases []string
	// SystemResources are the resources a SystemToken asks for ("*": all of them).
	SystemResources []string
	// Actions are the actions the token's permissions ask for, all of them together (read,
	// write): a rule must permit each. Empty counts as read.
	Actions []string
	// ExpiresAfter is the token's lifetime; zero means it never expires.
	ExpiresAfter time.Duration
}

// defaultActions are what a rule without actions permits.
var defaultActions = []string{string(tokensv1.ActionRead), string(tokensv1.ActionWrite)}

// wildcard is the spec value meaning every database or every system resource; a policy permits it
// only by listing it literally, never through a glob such as team-*.
const wildcard = "*"

// Evaluate applies a policy to a request from namespace (with labels nsLabels): the first rule
// whose namespaces match decides. It returns nil when the request is permitted, and otherwise an
// Unusable engine.Error with reason NotPermitted whose message names the rule. A nil policy permits everything.
func Evaluate(policy *tokensv1.EnginePolicy, namespace string, nsLabels map[string]string, req Request) error {
	if policy == nil || len(policy.Rules) == 0 {
		return nil
	}
	for i := range policy.Rules {
		rule := &policy.Rules[i]
		ok, err := ruleMatches(rule, namespace, nsLabels)
		if err != nil {
			return Errorf(tokensv1.ReasonNotPermitted, "policy rule %q has an invalid namespaces.selector: %v", rule.Name, err)
		}
		if ok {
			return evaluateRule(rule, namespace, req)
		}
	}
	names := make([]string, len(policy.Rules))
	for i, r := range policy.Rules {
		names[i] = r.Name
	}
	return Errorf(tokensv1.ReasonNotPermitted, "no policy rule matches namespace %s (rules: %s); add a rule for it",
		namespace, strings.Join(names, ", "))
}

// ruleMatches reports whether rule applies to namespace; a rule without namespaces applies to all.
func ruleMatches(rule *tokensv1.PolicyRule, namespace string, nsLabels map[string]string) (bool, error) {
	ns := rule.Namespaces
	switch {
	case ns == nil || (ns.Selector == nil && ns.MatchNames == nil):
		return true, nil
	case ns.Selector != nil:
		return PermitsByLabels(ns.Selector, nsLabels)
	}
	return PermitsByName(ns.MatchNames, namespace), nil
}

// evaluateRule checks every part of the request against the rule that applies to it.
func evaluateRule(rule *tokensv1.PolicyRule, namespace string, req Request) error {
	deny := func(format string, args ...any) error {
		return Errorf(tokensv1.ReasonNotPermitted, "policy rule %q (the first rule matching namespace %s) %s",
			rule.Name, namespace, fmt.Sprintf(format, args...))
	}
	for _, db := range req.Databases {
		switch {
		case rule.AllowAllDatabases:
		case db == wildcard:
			return deny("does not permit every database (databases [\"*\"]): that needs allowAllDatabases: true in the rule; ask for named databases, or change the engine's policy")
		case !permitsName(rule.Databases, db):
			return deny("does not permit database %q (%s); ask for a database the rule permits, or change the engine's policy",
				db, permittedList("databases", rule.Databases))
		}
	}
	resources := make([]string, len(rule.SystemResources))
	for i, r := range rule.SystemResources {
		resources[i] = string(r)
	}
	for _, r := range req.SystemResources {
		// System resources are a closed set: exact names, with "*" standing for each of them.
		switch {
		case rule.AllowAllSystemResources:
		case r == wildcard:
			return deny("does not permit every system resource (resources [\"*\"]): that needs allowAllSystemResources: true in the rule; list the resources, or change the engine's policy")
		case !slices.Contains(resources, r) && !slices.Contains(resources, wildcard):
			return deny("does not permit system resource %q (%s); ask for a resource the rule permits, or change the engine's policy",
				r, permittedList("systemResources", resources))
		}
	}
	actions := defaultActions
	if len(rule.Actions) > 0 {
		actions = make([]string, len(rule.Actions))
		for i, a := range rule.Actions {
			actions[i] = string(a)
		}
	}
	asked := req.Actions
	if len(asked) == 0 && (len(req.Databases) > 0 || len(req.SystemResources) > 0) {
		asked = []string{string(tokensv1.ActionRead)}
	}
	for _, a := range asked {
		if !slices.Contains(actions, a) {
			return deny("does not permit action %q (%s); ask for fewer actions, or change the engine's policy",
				a, permittedList("actions", actions))
		}
	}
	if rule.MaxExpiresAfter == nil {
		return nil
	}
	maxAge, err := rule.MaxExpiresAfter.Parse()
	if err != nil {
		return deny("has an invalid maxExpiresAfter: %v", err)
	}
	switch {
	case req.ExpiresAfter <= 0:
		return deny("permits at most expiresAfter %s and the token never expires; set spec.expiresAfter to %s or less",
			*rule.MaxExpiresAfter, *rule.MaxExpiresAfter)
	case req.ExpiresAfter > maxAge:
		return deny("permits at most expiresAfter %s and the token asks for %s; shorten spec.expiresAfter",
			*rule.MaxExpiresAfter, formatDuration(req.ExpiresAfter))
	}
	return nil
}

// permitsName reports whether a pattern permits name. A wildcard request is never permitted by a
// pattern (it needs allowAllDatabases); "*" as a pattern permits every named database.
func permitsName(patterns []string, name string) bool {
	if name == wildcard {
		return false
	}
	for _, p := range patterns {
		if globMatch(p, name) {
			return true
		}
	}
	return false
}

// globMatch matches name against pattern, where `*` matches any run of characters (including
// '/', which database names may hold) and every other character stands for itself.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// permittedList renders what a rule permits, for a message.
func permittedList(field string, values []string) string {
	if len(values) == 0 {
		return "the rule has no " + field
	}
	return "it permits " + field + " [" + strings.Join(values, ", ") + "]"
}

// formatDuration renders a lifetime in the units people write in specs: whole days as 60d,
// anything else as Go does (36h0m0s).
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}
