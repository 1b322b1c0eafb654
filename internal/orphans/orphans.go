// Package orphans decides which engine tokens are orphans: tokens that carry the operator's
// engine-side name form, k8s.<namespace>.<name>.<uid[:8]>.r<revision> (docs/design.md §3, §6),
// but that no DatabaseToken or SystemToken status names as current, pending or previous.
//
// The engine reconcilers' sweep (controllers/orphan_sweep.go) and the kill storm's leak check
// (test/chaos) share Accounted and Unaccounted, so "leaked" means the same thing in both. Decide
// and Confirm are the sweep's decisions, pure and table-tested (docs/design.md §4, "Orphan sweep").
package orphans

import (
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// NamePrefix starts every engine-side name the operator mints (lifecycle.TokenName); the sweep
// lists the engine with it and never looks at a token without it.
const NamePrefix = "k8s."

// uidPrefixLen is how much of the resource UID a name carries (lifecycle.TokenNamePrefix).
const uidPrefixLen = 8

// Name is a parsed engine-side name.
type Name struct {
	// Namespace and Resource are the token resource's namespace and name.
	Namespace, Resource string
	// UID is the first 8 characters of the resource's UID.
	UID types.UID
	// Revision is the mint number.
	Revision int64
}

// ParseName parses an engine-side name of the form lifecycle.TokenName writes. A name of any other
// form is not ours and is never swept. A namespace is a DNS label (no dots) and the UID prefix and
// revision are the last two parts, so a resource name with dots still parses. The final check is
// lifecycle.OwnsTokenName, the same one every revocation of the token lifecycle passes.
func ParseName(s string) (Name, bool) {
	rest, ok := strings.CutPrefix(s, NamePrefix)
	if !ok {
		return Name{}, false
	}
	ns, rest, ok := strings.Cut(rest, ".")
	if !ok || ns == "" {
		return Name{}, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return Name{}, false
	}
	rev := rest[i+1:]
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '.')
	if j <= 0 || !strings.HasPrefix(rev, "r") {
		return Name{}, false
	}
	uid, resource := rest[j+1:], rest[:j]
	if len(uid) != uidPrefixLen {
		return Name{}, false
	}
	n, err := strconv.ParseInt(rev[1:], 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != rev[1:] {
		return Name{}, false
	}
	if !lifecycle.OwnsTokenName(ns, resource, types.UID(uid), s) {
		return Name{}, false
	}
	return Name{Namespace: ns, Resource: resource, UID: types.UID(uid), Revision: n}, true
}

// StatusNames returns every engine-side name a token status accounts for: current, pending and
// every previous. A pending name counts from the moment it is recorded, which is before the engine
// is called (docs/design.md §3 step 2), so a mint in flight is always accounted for.
func StatusNames(st *tokensv1.TokenStatus) []string {
	var names []string
	if st.Current != nil && st.Current.TokenName != "" {
		names = append(names, st.Current.TokenName)
	}
	if st.Pending != nil && st.Pending.TokenName != "" {
		names = append(names, st.Pending.TokenName)
	}
	for _, p := range st.Previous {
		if p.TokenName != "" {
			names = append(names, p.TokenName)
		}
	}
	return names
}

// Accounted is the set of engine-side names some token status accounts for.
type Accounted map[string]struct{}

// Add records every name st accounts for.
func (a Accounted) Add(st *tokensv1.TokenStatus) {
	for _, n := range StatusNames(st) {
		a[n] = struct{}{}
	}
}

// AddResource records every name the token resource obj with status st accounts for: its
// status, and the intent of a first mint that status has not recorded yet (the annotation
// tokensv1.PendingMintAnnotation, docs/design.md §3 step 2), which counts from before the engine
// is called just as status.pending does.
func (a Accounted) AddResource(obj metav1.Object, st *tokensv1.TokenStatus) {
	a.Add(st)
	if p := lifecycle.PendingFromIntent(obj.GetAnnotations()[tokensv1.PendingMintAnnotation], st,
		obj.GetNamespace(), obj.GetName(), obj.GetUID()); p != nil {
		a[p.TokenName] = struct{}{}
	}
}

// Has reports whether name is accounted for.
func (a Accounted) Has(name string) bool {
	_, ok := a[name]
	return ok
}

// Token is a listed engine token whose name parsed.
type Token struct {
	engine.TokenInfo
	Parsed Name
}

// Expired reports whether the engine already refuses ti at now: expired tokens authorize
// nothing (the engine purges them later), so they are neither orphans nor leaks.
func Expired(ti engine.TokenInfo, now time.Time) bool {
	return ti.ExpiresAt != nil && !ti.ExpiresAt.After(now)
}

// Unaccounted returns the listed tokens that carry our name form, have not expired at now, and
// that acc does not account for. List the engine before reading the statuses behind acc: every
// listed token was recorded (pending) before it was created, so a status read after the listing
// names it.
func Unaccounted(listed []engine.TokenInfo, acc Accounted, now time.Time) []Token {
	var out []Token
	for _, ti := range listed {
		n, ok := ParseName(ti.Name)
		if !ok || Expired(ti, now) || acc.Has(ti.Name) {
			continue
		}
		out = append(out, Token{TokenInfo: ti, Parsed: n})
	}
	return out
}
