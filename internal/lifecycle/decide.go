package lifecycle

import (
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// Action is what Decide tells the reconciler to do next.
type Action string

const (
	// ActionWait: nothing to do now; Decision.RequeueAfter says when to look again (0: never,
	// until something changes).
	ActionWait Action = "Wait"
	// ActionMint: there is no token yet; mint the first one.
	ActionMint Action = "Mint"
	// ActionResume: status.pending has a Secret at its revision: finish step 5 of docs/design.md §3.
	ActionResume Action = "Resume"
	// ActionAbandon: status.pending has no Secret at its revision and its grace has passed: the
	// plaintext is lost, so revoke the pending name and start again with a new revision.
	ActionAbandon Action = "Abandon"
	// ActionExpire: the current token reached its expiry: revoke it and take it out of the Secret.
	ActionExpire Action = "Expire"
	// ActionSuccessor: the current token must be replaced (Decision.Why says why).
	ActionSuccessor Action = "Successor"
	// ActionConflict: a Secret of the target name exists and is not ours: never overwrite it.
	ActionConflict Action = "Conflict"
	// ActionUnsupported: the resource's engine cannot mint its kind of token (a SystemToken on
	// an engine without system tokens): Ready=False Unsupported, nothing is touched.
	ActionUnsupported Action = "Unsupported"
	// ActionNotPermitted: the engine's allowedNamespaces or policy refuses what the spec asks
	// and the resource has no live token: Ready=False NotPermitted, nothing is minted.
	ActionNotPermitted Action = "NotPermitted"
	// ActionRefuseChange: the engine refuses what the spec asks but still permits what the live
	// token was minted with: the change is not applied, the live token keeps working.
	ActionRefuseChange Action = "RefuseChange"
	// ActionRevokeNotPermitted: the engine no longer permits the resource's live tokens (a
	// policy or allowedNamespaces change): revoke them all and take the token out of the Secret.
	ActionRevokeNotPermitted Action = "RevokeNotPermitted"
)

// Successor reasons; each is also the reason of the event announcing the successor.
const (
	// WhyRenewal: status.current.renewAt has passed (rotation.renewBefore).
	WhyRenewal = tokensv1.ReasonRenewed
	// WhySpecChanged: the spec asks for other permissions or another expiresAfter.
	WhySpecChanged = tokensv1.ReasonSpecChanged
	// WhySecretMissing: the Secret holding the current token was deleted.
	WhySecretMissing = tokensv1.ReasonSecretMissing
	// WhyTokenChanged: the Secret's token no longer matches the fingerprint: treated as exposed.
	WhyTokenChanged = tokensv1.ReasonTokenChanged
	// WhyTokenLost: the engine no longer knows the current token.
	WhyTokenLost = tokensv1.ReasonTokenLost
	// WhyRenewedAfterExpiry: a rotating token's current revision expired before its successor
	// was minted (operator down, mint interrupted): the successor closes the gap.
	WhyRenewedAfterExpiry = tokensv1.ReasonRenewedAfterExpiry
	// WhyRenewRequested: the tokens.tokenops.dev/renew annotation carries a value not handled yet.
	WhyRenewRequested = tokensv1.ReasonRenewRequested
	// WhyEngineChanged: the resource now resolves to another engine than the one the current
	// token was minted in.
	WhyEngineChanged = tokensv1.ReasonEngineChanged
)

// SecretView is what Decide needs to know about the target Secret.
type SecretView struct {
	// Exists is true when a Secret of the target name exists (ours or not).
	Exists bool
	// Ours is true when it is controlled by this token resource.
	Ours bool
	// Revision and TokenName are our annotations on it (0 and "" when absent).
	Revision  int64
	TokenName string
	// HasToken is true when the token key holds a value.
	HasToken bool
	// Fingerprint is the keyed hash of that value (see Fingerprint).
	Fingerprint string
}

// holds reports whether the Secret is ours and holds the plaintext minted under name at revision.
func (v SecretView) holds(revision int64, name string) bool {
	return v.Exists && v.Ours && v.HasToken && v.Revision == revision && v.TokenName == name
}

// Desired is what the spec asks a token to be minted with, in the form TokenRecord records it.
type Desired struct {
	Permissions  string
	ExpiresAfter string
	// Engine is the engine the resource resolves to now; nil when unknown (then any matches).
	Engine *tokensv1.EngineIdentity
}

// Input is everything Decide looks at.
type Input struct {
	Now     time.Time
	Status  *tokensv1.TokenStatus
	Secret  SecretView
	Desired Desired
	// PendingGrace is how long a pending mint without a Secret is left to the worker that may
	// still be running it before it is abandoned (two managers without leader election).
	PendingGrace time.Duration
	// LeaderSince is when this manager acquired the leader lease; zero without leader election.
	// A pending mint recorded before it belongs to an earlier leader, whose process stopped
	// acting when it lost the lease, before this one could acquire it: nobody is still running
	// it, so it is abandoned at once instead of after PendingGrace (see docs/rotation.md).
	LeaderSince time.Time
	// Rotating is true with spec.rotation.renewBefore: an expired current revision then gets a
	// successor as soon as one can be minted, instead of staying expired.
	Rotating bool
	// RenewRequested is true when the renew annotation carries a value no token answered yet
	// (see RenewRequested).
	RenewRequested bool
	// Unsupported is true when the resource's kind needs system tokens and its engine has none.
	Unsupported bool
	// NotPermitted is true when the engine's allowedNamespaces or policy refuses what the spec
	// asks (docs/design.md §4, "Not permitted").
	NotPermitted bool
	// CurrentPermitted, gathered only with NotPermitted, is true when the engine still permits
	// what status.current was minted with (its recorded permissions and expiresAfter).
	CurrentPermitted bool
	// TokenLost is true when verifyLive found that the engine no longer knows the current token
	// (docs/design.md §4, "Drift"). The reconciler asks only when Decide had nothing else to do
	// (Wait in steady state), at most once per verify interval, and then decides again with it.
	TokenLost bool
}

// Decision is what to do next.
type Decision struct {
	Action Action
	// Why names the cause of a successor (WhyRenewal, ...); empty otherwise.
	Why string
	// RequeueAfter, for ActionWait, is when the next deadline is due; 0 means none.
	RequeueAfter time.Duration
	// CurrentExpired, for ActionWait on a pending mint inside its grace, reports that the
	// current token's expiry has passed and was not carried out yet: the Secret holds a dead
	// token until the grace ends, and Ready must not say otherwise.
	CurrentExpired bool
}

// Decide is the lifecycle's one decision: given the status, the Secret and the time, what next?
// It is pure; the reconciler gathers the input and carries the decision out.
func Decide(in Input) Decision {
	st := in.Status
	if in.NotPermitted {
		// First of all: a refusal outranks a pending mint (never resumed into a token the engine
		// refuses) and Unsupported (the tokens the engine refuses are revoked either way).
		switch {
		case in.CurrentPermitted && st.Current != nil && st.Current.Permissions != "" &&
			st.Pending == nil && !currentExpired(st):
			// Only the spec asks for too much: workloads keep the token that works.
			return Decision{Action: ActionRefuseChange}
		case HasLiveTokens(st):
			return Decision{Action: ActionRevokeNotPermitted}
		}
		return Decision{Action: ActionNotPermitted}
	}
	if in.Unsupported {
		// First, even before a pending mint: nothing can be minted, resumed or revoked for this
		// kind in this engine, and the live token (if any) keeps working (docs/design.md §4).
		return Decision{Action: ActionUnsupported}
	}
	if p := st.Pending; p != nil {
		if in.Secret.holds(p.Revision, p.TokenName) {
			return Decision{Action: ActionResume}
		}
		if p.StartedAt != nil && !in.LeaderSince.IsZero() && p.StartedAt.Time.Before(in.LeaderSince) {
			return Decision{Action: ActionAbandon} // an earlier leader's: no worker is running it
		}
		if p.StartedAt != nil && in.PendingGrace > 0 {
			if until := p.StartedAt.Add(in.PendingGrace).Sub(in.Now); until > 0 {
				cur := st.Current
				dead := cur != nil && cur.ExpiresAt != nil && !in.Now.Before(cur.ExpiresAt.Time) && !expiryDone(st, in.Secret)
				return Decision{Action: ActionWait, RequeueAfter: until, CurrentExpired: dead}
			}
		}
		return Decision{Action: ActionAbandon}
	}
	if in.Secret.Exists && !in.Secret.Ours {
		return Decision{Action: ActionConflict}
	}
	cur := st.Current
	if cur == nil {
		return Decision{Action: ActionMint}
	}
	if specChanged(cur, in.Desired) {
		// Before expiry: a spec change is also how a person asks for a new token after expiry.
		return Decision{Action: ActionSuccessor, Why: WhySpecChanged}
	}
	if EngineChanged(cur.Engine, in.Desired.Engine) {
		// Like a spec change: the successor comes from the new engine, the predecessor is
		// revoked in its own engine after the overlap.
		return Decision{Action: ActionSuccessor, Why: WhyEngineChanged}
	}
	if cur.ExpiresAt != nil && !in.Now.Before(cur.ExpiresAt.Time) {
		// Expiry is carried out first (revoked, taken out of the Secret), whatever comes next:
		// a successor that cannot be minted must not leave the dead token in the Secret.
		switch {
		case !expiryDone(st, in.Secret):
			return Decision{Action: ActionExpire}
		case in.RenewRequested:
			return Decision{Action: ActionSuccessor, Why: WhyRenewRequested}
		case in.Rotating:
			return Decision{Action: ActionSuccessor, Why: WhyRenewedAfterExpiry}
		}
		return Decision{Action: ActionWait, RequeueAfter: NextDeadline(st, in.Now, true)}
	}
	switch {
	case !in.Secret.Exists:
		return Decision{Action: ActionSuccessor, Why: WhySecretMissing}
	case in.Secret.Revision < cur.Revision || !in.Secret.HasToken ||
		(in.Secret.Revision == cur.Revision && in.Secret.Fingerprint != cur.Fingerprint):
		// Our Secret holds an older revision, no token, or a token we did not write.
		return Decision{Action: ActionSuccessor, Why: WhyTokenChanged}
	case in.TokenLost:
		// Ahead of a stale status (next case): the order the reconciler kept when it acted on
		// the lookup outside Decide. A stale view only conflicts: the mint's first status write
		// carries a resourceVersion precondition (docs/design.md, "The path of a reconcile").
		return Decision{Action: ActionSuccessor, Why: WhyTokenLost}
	case in.Secret.Revision > cur.Revision:
		// A newer revision than status knows: status is stale (a conflicting write is on its
		// way), never a reason to act. Look again shortly.
		return Decision{Action: ActionWait, RequeueAfter: StaleRequeue}
	case in.RenewRequested:
		return Decision{Action: ActionSuccessor, Why: WhyRenewRequested}
	case cur.RenewAt != nil && !in.Now.Before(cur.RenewAt.Time):
		return Decision{Action: ActionSuccessor, Why: WhyRenewal}
	}
	return Decision{Action: ActionWait, RequeueAfter: NextDeadline(st, in.Now, false)}
}

// RenewRequested reports whether the renew annotation's value asks for a successor: it is set,
// and neither the live token nor the mint in progress answered it. Handled values are recorded
// with the mint (status.pending.renewRequest, then status.lastRenewRequest), so each new value
// mints once, across crashes.
func RenewRequested(annotation string, st *tokensv1.TokenStatus) bool {
	if annotation == "" || annotation == st.LastRenewRequest {
		return false
	}
	return st.Pending == nil || st.Pending.RenewRequest != annotation
}

// AfterRecord is the requeue once a token was recorded as current. The token watch ignores
// status-only changes, so when the recorded token no longer answers the spec (a mint resumed
// after a restart, for a spec edited while no manager ran) or a renew request is still open,
// the next pass is asked for here: nothing else would wake the resource before its next
// deadline, and a token without expiry has none.
func AfterRecord(st *tokensv1.TokenStatus, want Desired, renewAnnotation string, now time.Time) time.Duration {
	if (st.Current != nil && (specChanged(st.Current, want) || EngineChanged(st.Current.Engine, want.Engine))) ||
		RenewRequested(renewAnnotation, st) {
		return FollowUpRequeue
	}
	return NextDeadline(st, now, false)
}

// ExpiryGap is how long a token that expired at expiresAt left its Secret without a working
// token when its successor is written at now (zero when it did not expire first).
func ExpiryGap(expiresAt *metav1.Time, now time.Time) time.Duration {
	if expiresAt == nil || !now.After(expiresAt.Time) {
		return 0
	}
	return now.Sub(expiresAt.Time)
}

// specChanged reports whether the spec asks for a token other than the current one. A record
// without permissions predates their recording and is taken as matching.
func specChanged(cur *tokensv1.TokenRecord, want Desired) bool {
	if cur.Permissions == "" {
		return false
	}
	return !SamePermissions(cur.Permissions, want.Permissions) || cur.ExpiresAfter != want.ExpiresAfter
}

// EngineChanged reports whether a token minted in engine was minted elsewhere than want, the
// engine the resource resolves to now. Kind and name decide (see engineref.Resolved.Is); a
// record without an engine predates their recording and is taken as matching.
func EngineChanged(engine, want *tokensv1.EngineIdentity) bool {
	return engine != nil && want != nil && (engine.Kind != want.Kind || engine.Name != want.Name)
}

// HasLiveTokens reports whether the resource may own live engine tokens: a pending mint, a
// predecessor, or a current token whose expiry was not carried out (an expired one was revoked
// then, and stays in status so that the resource stays expired rather than minting again).
func HasLiveTokens(st *tokensv1.TokenStatus) bool {
	return st.Pending != nil || len(st.Previous) > 0 || (st.Current != nil && !currentExpired(st))
}

// currentExpired reports whether the current token's expiry was carried out (Expired=True).
func currentExpired(st *tokensv1.TokenStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, tokensv1.ConditionExpired)
}

// expiryDone reports whether the current token's expiry was already carried out.
func expiryDone(st *tokensv1.TokenStatus, s SecretView) bool {
	return currentExpired(st) && !s.HasToken
}

// NextDeadline is how long until the earliest of the current token's expiry and renewal and the
// predecessors' revocation, or 0 when there is none. It never polls: a token without expiry,
// rotation or predecessors gets no requeue at all. With expired set, the current token's own
// deadlines are over.
func NextDeadline(st *tokensv1.TokenStatus, now time.Time, expired bool) time.Duration {
	var next time.Time
	consider := func(t *time.Time) {
		if t != nil && (next.IsZero() || t.Before(next)) {
			next = *t
		}
	}
	if c := st.Current; c != nil && !expired {
		if c.ExpiresAt != nil {
			consider(&c.ExpiresAt.Time)
		}
		if c.RenewAt != nil {
			consider(&c.RenewAt.Time)
		}
	}
	for i := range st.Previous {
		if p := st.Previous[i].RevokeAt; p != nil {
			consider(&p.Time)
		}
	}
	if next.IsZero() {
		return 0
	}
	if d := next.Sub(now); d > 0 {
		return d
	}
	// Due already (e.g. a predecessor whose revocation failed): come back soon, not at once.
	return StaleRequeue
}

// maxRenewJitter caps how much earlier than expiresAt − renewBefore a token renews.
const maxRenewJitter = 5 * time.Minute

// RenewAt is when a token expiring at expiresAt is renewed with rotation.renewBefore: a little
// before expiresAt − renewBefore, by a jitter of up to a tenth of renewBefore (at most
// maxRenewJitter) derived from the token name, so thousands of tokens minted together do not
// renew in the same second, and the same token always gets the same instant. Never later: a
// workload must never hold an expired token.
func RenewAt(expiresAt time.Time, renewBefore time.Duration, tokenName string) time.Time {
	window := min(renewBefore/10, maxRenewJitter)
	at := expiresAt.Add(-renewBefore)
	if window <= 0 {
		return at
	}
	h := fnv.New64a()
	h.Write([]byte(tokenName))
	return at.Add(-time.Duration(h.Sum64() % uint64(window)))
}

// PredecessorRevokeAt is when a token replaced for the reason why is revoked (docs/design.md §4): at its
// own expiry for a scheduled renewal, at once when its Secret was changed by hand (exposed),
// and after the overlap window otherwise, so kubelet can refresh mounted Secrets first.
func PredecessorRevokeAt(why string, old *tokensv1.TokenRecord, now time.Time, overlap time.Duration) time.Time {
	switch why {
	case WhyRenewal:
		if old.ExpiresAt != nil {
			return old.ExpiresAt.Time
		}
	case WhyTokenChanged, WhyRenewedAfterExpiry:
		return now // exposed, or expired already: nothing to overlap with
	}
	return now.Add(overlap)
}
