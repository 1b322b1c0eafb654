package orphans

import (
	"sort"
	"time"
)

// Input is what one sweep of one engine gathered.
type Input struct {
	// Now is the sweep's time (the injected clock).
	Now time.Time
	// Grace is how long a token must have been seen unaccounted, and (where the engine reports
	// it) have existed, before it is an orphan.
	Grace time.Duration
	// Unaccounted is Unaccounted over the engine's listing and the manager's cache.
	Unaccounted []Token
	// Serves reports whether the engine serves a namespace: a TokenEngine its own, a
	// ClusterTokenEngine those its allowedNamespaces permit (and the manager watches). Tokens of
	// other namespaces are not this engine's to judge.
	Serves func(namespace string) bool
	// Suspects are the names earlier sweeps saw unaccounted, with when each was first seen
	// (Result.Suspects of the previous sweep; empty after a manager restart or a new leader).
	Suspects map[string]time.Time
}

// Result is the sweep's decision.
type Result struct {
	// Orphans are unaccounted in two sweeps at least Grace apart and, where the engine reports a
	// creation time, older than Grace; sorted by name. They still need Confirm before any action.
	Orphans []Token
	// Suspects are every unaccounted token of a served namespace, with when it was first seen:
	// the next sweep's Input.Suspects. A name that is accounted for again, or gone, drops out.
	Suspects map[string]time.Time
}

// Decide applies the grace rules (docs/design.md §4, "Orphan sweep"). A mint in flight is
// recorded as pending before the engine is called, so it is unaccounted only while the manager's
// cache is behind; a token created within the grace, or seen unaccounted only once or only
// within the grace, is therefore never an orphan yet. Engines without a creation time
// (InfluxDB 1.x users) rely on the two-sweep rule alone.
func Decide(in Input) Result {
	res := Result{Suspects: make(map[string]time.Time, len(in.Unaccounted))}
	for _, t := range in.Unaccounted {
		if in.Serves == nil || !in.Serves(t.Parsed.Namespace) {
			continue
		}
		first, seen := in.Suspects[t.Name]
		if !seen || first.After(in.Now) {
			first = in.Now
		}
		res.Suspects[t.Name] = first
		if in.Now.Sub(first) < in.Grace {
			continue
		}
		if !t.CreatedAt.IsZero() && in.Now.Sub(t.CreatedAt) < in.Grace {
			continue
		}
		res.Orphans = append(res.Orphans, t)
	}
	sort.Slice(res.Orphans, func(i, j int) bool { return res.Orphans[i].Name < res.Orphans[j].Name })
	return res
}

// Fresh is what uncached reads right before acting on one orphan found.
type Fresh struct {
	// Accounted holds the names the DatabaseToken and SystemToken of the orphan's namespace and
	// name account for now (any UID), read uncached.
	Accounted Accounted
	// SecretTokenNames are the tokens.tokenops.dev/token-name annotations of the Secrets in the
	// orphan's namespace, read uncached: a Secret handed over by deletionPolicy Retain keeps it,
	// and its token is the user's (docs/design.md §4, Deletion).
	SecretTokenNames map[string]bool
}

// Verdict is Confirm's answer.
type Verdict string

// Confirm's verdicts.
const (
	// VerdictOrphan: nothing accounts for the token; Report counts it, Revoke revokes it.
	VerdictOrphan Verdict = "Orphan"
	// VerdictAccounted: a fresh status names it; the manager's cache was behind.
	VerdictAccounted Verdict = "Accounted"
	// VerdictRetained: a Secret names it (deletionPolicy Retain handed it to the user).
	VerdictRetained Verdict = "Retained"
)

// Confirm re-checks an orphan Decide found against uncached reads, so that a cache that is behind
// can never cause a report or a revocation.
func Confirm(t Token, f Fresh) Verdict {
	if f.SecretTokenNames[t.Name] {
		return VerdictRetained
	}
	if f.Accounted.Has(t.Name) {
		return VerdictAccounted
	}
	return VerdictOrphan
}
