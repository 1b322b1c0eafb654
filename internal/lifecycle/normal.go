package lifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// SystemTokenEngines names the engine types that can mint SystemTokens, for the Unsupported message.
const SystemTokenEngines = "influxdb3 (InfluxDB 3 Enterprise and the in-cluster token engine)"

// reconcileNormal brings a live resource to its desired state in named phases, each of which may
// end the pass (docs/design.md, "The path of a reconcile", steps 3 to 6).
func (r *Reconciler[T]) reconcileNormal(ctx context.Context, s *scope[T]) (ctrl.Result, error) {
	s.desire()
	for _, phase := range []func(context.Context) (ctrl.Result, bool, error){
		s.resolveEngine, // step 4
		s.gather,        // step 5: what Decide needs
		s.decide,        // step 5
	} {
		if res, done, err := phase(ctx); done {
			return res, err
		}
	}
	return s.act(ctx) // step 6
}

// desire fills the desired state from the spec (step 3).
func (s *scope[T]) desire() {
	s.perms = s.r.Kind.Permissions(s.obj)
	s.desired = Desired{Permissions: Summarize(s.perms)}
	if d := s.spec.ExpiresAfter; d != nil {
		s.desired.ExpiresAfter = string(*d)
	}
	s.status.SecretName = s.secretName
	s.status.Permissions = s.desired.Permissions
	if c := s.status.Current; c != nil && c.Permissions != "" && !s.expired() {
		s.status.Permissions = c.Permissions // what the live token grants, until its successor
	}
	s.refreshRenewAt()
}

// gather collects what Decide needs besides the status: the engine's identity and whether it can
// mint the kind, the due predecessors revoked, the Secret.
func (s *scope[T]) gather(ctx context.Context) (ctrl.Result, bool, error) {
	if s.denied != nil {
		return ctrl.Result{}, false, nil // Decide needs only the verdict: nothing is minted or resumed
	}
	s.desired.Engine = s.engine.Identity()
	s.recordEngine()
	// Gathered, not acted on: Decide ranks Unsupported first; due predecessors are still revoked
	// where they were minted.
	s.unsupported = s.r.Kind.SystemTokens && !s.engine.SupportsSystemTokens
	// Predecessors whose time has come go first, so a later failure cannot keep them alive.
	if err := s.revokeDuePrevious(ctx); err != nil {
		res, err := s.engineFailure("revoking a predecessor token", s.engine, err)
		return res, true, err
	}
	if err := s.loadSecret(ctx); err != nil {
		return ctrl.Result{}, true, err
	}
	return ctrl.Result{}, false, nil
}

// decide runs Decide into s.decision, and again after what only some decisions need: a fresh
// view before Resume or Abandon, the abandonment itself, and in steady state the engine's word
// on the current token (at most once per verify interval).
func (s *scope[T]) decide(ctx context.Context) (ctrl.Result, bool, error) {
	d := Decide(s.input())
	ownStale := s.knownStale() // every pass, so that served entries go
	if d.Action == ActionResume || d.Action == ActionAbandon {
		if ownStale {
			s.stale = true
			return ctrl.Result{RequeueAfter: StaleRequeue}, true, nil
		}
		if stale, err := s.staleView(ctx); err != nil || stale {
			return ctrl.Result{RequeueAfter: StaleRequeue}, true, err
		}
	}
	if d.Action == ActionAbandon {
		if err := s.abandonPending(ctx); err != nil {
			res, err := s.engineFailure("revoking an abandoned pending token", s.engine, err)
			return res, true, err
		}
		d = Decide(s.input())
	}
	switch d.Action {
	case ActionConflict, ActionUnsupported, ActionNotPermitted, ActionRefuseChange, ActionRevokeNotPermitted:
	default:
		s.noSecretConflict()
	}
	s.steady = d.Action == ActionWait && s.status.Current != nil && s.status.Pending == nil && !s.expired()
	if s.steady {
		var err error
		s.verifyIn, err = s.verifyLive(ctx)
		if s.tokenLost = engine.IsNotFound(err); s.tokenLost {
			d = Decide(s.input())
		} else if err != nil {
			c := s.status.Current
			res, err := s.tokenEngineFailure(ctx, fmt.Sprintf("looking up token %q", c.TokenName), refOf(c), err)
			return res, true, err
		}
	}
	s.decision = d
	return ctrl.Result{}, false, nil
}

// act carries out s.decision; the lowest requeue wins.
func (s *scope[T]) act(ctx context.Context) (ctrl.Result, error) {
	d := s.decision
	switch d.Action {
	case ActionNotPermitted:
		return s.engineFailure("resolving the engine", nil, s.denied)
	case ActionRefuseChange:
		c := s.status.Current
		s.notReady(tokensv1.ReasonNotPermitted, fmt.Sprintf("%s; the change is not applied, and the live token %q (%s) keeps working in Secret %q",
			s.denied.Message, c.TokenName, c.Permissions, s.secretName))
		return ctrl.Result{RequeueAfter: EngineRetryInterval}, nil
	case ActionRevokeNotPermitted:
		return s.revokeNotPermitted(ctx)
	case ActionUnsupported:
		s.notReady(tokensv1.ReasonUnsupported, fmt.Sprintf(
			"%s %q (type %s) has no system tokens; point spec.engineRef at an engine of type %s",
			s.engine.Kind, s.engine.Name, s.engine.Type, SystemTokenEngines))
		return ctrl.Result{RequeueAfter: UnsupportedRetryInterval}, nil
	case ActionResume:
		return s.resumePending(ctx)
	case ActionConflict:
		return s.secretConflict()
	case ActionMint:
		return s.mint(ctx, "")
	case ActionSuccessor:
		s.log(ctx).Info("Minting a successor token", "why", d.Why, "current", s.status.Current.TokenName)
		return s.mint(ctx, d.Why)
	case ActionExpire:
		res, err := s.expire(ctx)
		if err != nil || !s.expired() {
			return res, err
		}
		// A rotating token (or one asked to renew) gets its successor in the same pass.
		if d = Decide(s.input()); d.Action != ActionSuccessor {
			return res, nil
		}
		s.log(ctx).Info("Minting a successor token", "why", d.Why, "current", s.status.Current.TokenName)
		return s.mint(ctx, d.Why)
	}
	// Wait: steady state, or a pending mint inside its grace.
	if s.expired() {
		// An earlier pass may have put another reason on Ready (an engine or policy problem that
		// has since cleared); the token is still expired.
		if c := apimeta.FindStatusCondition(s.status.Conditions, tokensv1.ConditionExpired); c != nil {
			s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonExpired, c.Message)
		}
	}
	if d.CurrentExpired {
		// A pending mint inside its grace keeps the expiry from being carried out until the
		// grace ends; the Secret's token is dead meanwhile, and Ready says so.
		c, p := s.status.Current, s.status.Pending
		s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonExpired, fmt.Sprintf(
			"Token %q expired at %s while the mint of its successor %q (started %s) was interrupted or is still running "+
				"elsewhere; that mint is abandoned and a successor minted when its grace ends, at %s",
			c.TokenName, c.ExpiresAt.UTC().Format(time.RFC3339), p.TokenName, p.StartedAt.UTC().Format(time.RFC3339),
			s.now.Add(d.RequeueAfter).UTC().Format(time.RFC3339)))
	}
	if !s.steady {
		return ctrl.Result{RequeueAfter: d.RequeueAfter}, nil
	}
	s.ready()
	return minResult(ctrl.Result{RequeueAfter: d.RequeueAfter}, ctrl.Result{RequeueAfter: s.verifyIn}), nil
}

// verifyLive asks the engine whether it still knows the current token, at most once per verify
// interval per token (an engine restored from an old backup, or a token revoked by hand, is
// otherwise invisible: its Secret looks fine). It returns when the next check is due.
func (s *scope[T]) verifyLive(ctx context.Context) (time.Duration, error) {
	interval := s.r.verifyInterval()
	c := s.status.Current
	last := s.createdOrNow(c.MintedAt.Time)
	if at, ok := s.r.verified.load(s.obj); ok && at.After(last) {
		last = at
	}
	if due := last.Add(interval).Sub(s.now); due > 0 {
		return due, nil
	}
	eng, err := s.engineOf(ctx, c.Engine)
	if err != nil {
		return 0, err
	}
	if _, err := eng.Engine.Lookup(ctx, c.TokenName); err != nil {
		return 0, err
	}
	s.engineReachable()
	s.r.verified.store(s.obj, s.now)
	return interval, nil
}

// refreshRenewAt keeps status.current.renewAt in step with spec.rotation, which can change on a
// live token without a successor.
func (s *scope[T]) refreshRenewAt() {
	c := s.status.Current
	if c == nil || c.ExpiresAt == nil {
		return
	}
	c.RenewAt = s.renewAt(c.ExpiresAt.Time, c.TokenName) // an unchanged value patches nothing
}

// renewAt is status.current.renewAt for a token of that name expiring at expiresAt, or nil
// without rotation.renewBefore.
func (s *scope[T]) renewAt(expiresAt time.Time, name string) *metav1.Time {
	before := s.renewBefore()
	if before <= 0 {
		return nil
	}
	return &metav1.Time{Time: RenewAt(expiresAt, before, name).Truncate(time.Second)}
}

// resolveEngine finds the engine; done is true when the pass cannot go on without one. A refusal
// by the engine's allowedNamespaces or policy is not the end of the pass but a verdict for Decide
// (Input.NotPermitted), gathered here with the engine's word on the live token.
func (s *scope[T]) resolveEngine(ctx context.Context) (ctrl.Result, bool, error) {
	resolved, err := s.resolve(ctx)
	if err == nil {
		s.engine = resolved
		return ctrl.Result{}, false, nil
	}
	refErr, ok := engine.AsUnusable(err)
	if !ok {
		return ctrl.Result{}, true, err
	}
	if refErr.Reason != tokensv1.ReasonNotPermitted {
		res, err := s.engineFailure("resolving the engine", nil, refErr)
		return res, true, err
	}
	s.denied = refErr
	s.currentPermitted = s.currentStillPermitted(ctx)
	return ctrl.Result{}, false, nil
}

// recordEngine records the resource's engine on the records written before engines were
// recorded (an upgrade): they were minted in it, as far as anything can tell, and must be
// revoked there even if spec.engineRef moves later.
func (s *scope[T]) recordEngine() {
	id := s.engine.Identity()
	if id == nil {
		return
	}
	if c := s.status.Current; c != nil && c.Engine == nil {
		c.Engine = id.DeepCopy()
	}
	if p := s.status.Pending; p != nil && p.Engine == nil {
		p.Engine = id.DeepCopy()
	}
	for i := range s.status.Previous {
		if s.status.Previous[i].Engine == nil {
			s.status.Previous[i].Engine = id.DeepCopy()
		}
	}
}

func (s *scope[T]) input() Input {
	in := Input{Now: s.now, Status: s.status, Secret: viewSecret(s.secret, s.obj.GetUID()), Desired: s.desired,
		PendingGrace: s.pendingGrace(), Rotating: s.renewBefore() > 0,
		RenewRequested: RenewRequested(s.renewAnnotation(), s.status),
		Unsupported:    s.unsupported, TokenLost: s.tokenLost,
		NotPermitted: s.denied != nil, CurrentPermitted: s.currentPermitted}
	if s.r.LeaderSince != nil {
		in.LeaderSince = s.r.LeaderSince()
	}
	return in
}

// pendingGrace is Reconciler.PendingGrace or its default.
func (s *scope[T]) pendingGrace() time.Duration {
	if s.r.PendingGrace > 0 {
		return s.r.PendingGrace
	}
	return DefaultPendingGrace
}

// renewAnnotation is the value of the renew annotation ("" when absent).
func (s *scope[T]) renewAnnotation() string {
	return s.obj.GetAnnotations()[tokensv1.RenewAnnotation]
}

// renewBefore is spec.rotation.renewBefore, or 0 without rotation.
func (s *scope[T]) renewBefore() time.Duration {
	rot := s.spec.Rotation
	if rot == nil {
		return 0
	}
	before, err := ParseDuration(rot.RenewBefore)
	if err != nil || before <= 0 {
		return 0
	}
	return before
}

// loadSecret reads the target Secret from the cache, and from the API server when the cache
// disagrees with status (a Secret that is not ours is not in the cache at all; one we just wrote
// may not be there yet). Acting on a stale miss would mint twice or abandon a good mint. The one
// miss it trusts is a first mint's (firstMintMiss), so the happy path reads nothing uncached.
func (s *scope[T]) loadSecret(ctx context.Context) error {
	key := types.NamespacedName{Namespace: s.obj.GetNamespace(), Name: s.secretName}
	sec := &corev1.Secret{}
	err := s.r.Client.Get(ctx, key, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = nil
	case err != nil:
		return err
	}
	if s.secretAgrees(sec) || (sec == nil && s.firstMintMiss()) {
		s.secret = sec
		return nil
	}
	sec = &corev1.Secret{}
	if err := s.r.APIReader.Get(ctx, key, sec); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		sec = nil
	}
	s.secret = sec
	return nil
}

// firstMintMiss reports whether a cache miss can be taken as it is: nothing was ever minted for
// the resource and no Secret conflict was seen. A Secret that is not ours (invisible to the
// cache) is then met by step 4's create: AlreadyExists, read once, the fresh token revoked and
// SecretConflict set, after which every pass reads uncached (docs/design.md §3, step 4).
func (s *scope[T]) firstMintMiss() bool {
	return s.status.Current == nil && s.status.Pending == nil && s.status.Revision == 0 &&
		!apimeta.IsStatusConditionTrue(s.status.Conditions, tokensv1.ConditionSecretConflict)
}

// secretAgrees reports whether the cached Secret matches what status says it holds.
func (s *scope[T]) secretAgrees(sec *corev1.Secret) bool {
	v := viewSecret(sec, s.obj.GetUID())
	if p := s.status.Pending; p != nil {
		return v.holds(p.Revision, p.TokenName)
	}
	c := s.status.Current
	if c == nil || !v.Ours || v.Revision != c.Revision {
		return false
	}
	return !v.HasToken || v.Fingerprint == c.Fingerprint
}

// revokeDuePrevious revokes predecessors whose revokeAt has come and drops them from status
// (persisted by the next status write). Names in status.previous are dead for good, so revoking
// them is safe even from a stale view. A predecessor minted in another engine (spec.engineRef
// moved) is revoked there; that engine failing does not hold up this one's tokens, see
// previousElsewhereFailed.
func (s *scope[T]) revokeDuePrevious(ctx context.Context) error {
	kept := s.status.Previous[:0:0]
	var firstErr error
	failedElsewhere := false
	skip := s.obj.GetAnnotations()[tokensv1.SkipRevocationAnnotation] == "true"
	for _, p := range s.status.Previous {
		own := s.engine.Is(p.Engine)
		if !own && skip && s.engineGone(ctx, p.Engine) {
			// The escape hatch acts at once, not at the next retry.
			msg := fmt.Sprintf("Dropped predecessor %q without revoking it because of the annotation %s=true: %s %q, which minted it, no longer exists; it stays valid there until it expires or is deleted there",
				p.TokenName, tokensv1.SkipRevocationAnnotation, p.Engine.Kind, p.Engine.Name)
			s.log(ctx).Info("Dropped a predecessor whose engine is gone", "tokenName", p.TokenName)
			s.event(corev1.EventTypeWarning, tokensv1.ReasonRevocationSkipped, actionRevoke, msg)
			continue
		}
		if firstErr != nil || (p.RevokeAt != nil && s.now.Before(p.RevokeAt.Time)) {
			kept = append(kept, p)
			continue
		}
		if err := s.revoke(ctx, refOf(&p)); err != nil {
			if own {
				firstErr = err
				kept = append(kept, p)
			} else {
				s.previousElsewhereFailed(&p, err)
				failedElsewhere = true
				kept = append(kept, p)
			}
			continue
		}
		if own {
			s.engineReachable()
		}
		s.log(ctx).Info("Revoked a predecessor token", "tokenName", p.TokenName, "revision", p.Revision)
	}
	if len(kept) == 0 {
		kept = nil
	}
	s.status.Previous = kept
	if !failedElsewhere && firstErr == nil && !s.deleting() &&
		apimeta.IsStatusConditionTrue(s.status.Conditions, tokensv1.ConditionRevocationFailed) {
		s.setCondition(tokensv1.ConditionRevocationFailed, metav1.ConditionFalse, tokensv1.ReasonRevoked,
			"Predecessors were revoked in the engines that minted them")
	}
	return firstErr
}

// previousElsewhereFailed handles a predecessor that could not be revoked in the engine that
// minted it, another engine than the resource's: RevocationFailed=True says which and why, and
// the record is kept and retried after EngineRetryInterval (revokeAt moves), while the live
// token and its engine carry on.
func (s *scope[T]) previousElsewhereFailed(p *tokensv1.TokenRecord, err error) {
	refErr, unusable := engine.AsUnusable(err)
	gone := unusable && refErr.Reason == tokensv1.ReasonEngineNotFound
	msg := fmt.Sprintf("Revoking predecessor %q failed: %v; retried every %s while the live token keeps working.",
		p.TokenName, err, EngineRetryInterval)
	if gone {
		msg += fmt.Sprintf(" Re-create that engine to revoke it, or annotate the %s %s=true to drop it without revoking (it stays valid there until it expires)",
			s.r.Kind.Name, tokensv1.SkipRevocationAnnotation)
	}
	reason := tokensv1.ReasonRevocationFailed
	if unusable {
		reason = refErr.Reason
	}
	if s.setCondition(tokensv1.ConditionRevocationFailed, metav1.ConditionTrue, reason, msg) {
		s.event(corev1.EventTypeWarning, tokensv1.ReasonRevocationFailed, actionRevoke, msg)
	}
	p.RevokeAt = &metav1.Time{Time: s.now.Add(EngineRetryInterval)}
}

// engineGone reports whether the engine resource id names no longer exists.
func (s *scope[T]) engineGone(ctx context.Context, id *tokensv1.EngineIdentity) bool {
	_, err := s.engineOf(ctx, id)
	refErr, ok := engine.AsUnusable(err)
	return ok && refErr.Reason == tokensv1.ReasonEngineNotFound
}

// abandonPending gives up a pending mint whose plaintext is lost (docs/design.md §3, restart without a
// Secret at that revision): its name moves to status.previous, and that write must succeed
// before the revocation, so a stale view can never revoke a token someone recorded.
//
// A mint abandoned before its grace ran out (an earlier leader's, see Input.LeaderSince) is
// revoked now and once more when the grace ends: an engine may still finish a create request
// whose client has gone, and the second revocation catches that token too.
func (s *scope[T]) abandonPending(ctx context.Context) error {
	p := s.status.Pending
	s.log(ctx).Info("Abandoning a pending mint without a Secret", "tokenName", p.TokenName, "revision", p.Revision)
	again := s.now
	if p.StartedAt != nil {
		if end := p.StartedAt.Add(s.pendingGrace()); end.After(again) {
			again = end
		}
	}
	s.status.Pending = nil
	s.status.Previous = append(s.status.Previous, tokensv1.TokenRecord{
		TokenName: p.TokenName, Revision: p.Revision, RevokeAt: &metav1.Time{Time: again}, Engine: p.Engine,
	})
	if err := s.patchStatus(ctx); err != nil {
		return err
	}
	if again.After(s.now) {
		if err := s.revoke(ctx, tokenRef{Name: p.TokenName, Engine: p.Engine}); err != nil {
			return err
		}
		s.engineReachable()
	}
	return s.revokeDuePrevious(ctx)
}

// expired reports whether the current token's expiry was carried out.
func (s *scope[T]) expired() bool {
	return apimeta.IsStatusConditionTrue(s.status.Conditions, tokensv1.ConditionExpired)
}
