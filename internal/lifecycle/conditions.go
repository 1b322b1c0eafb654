package lifecycle

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engineref"
)

// Event actions (events.k8s.io "action": what the controller did).
const (
	actionMint    = "Mint"
	actionRevoke  = "Revoke"
	actionWrite   = "WriteSecret"
	actionCheck   = "Check"
	actionExpire  = "Expire"
	actionRestart = "RolloutRestart"
)

// setCondition sets one condition and reports whether its status or reason changed (a
// transition, the only time an event is due).
func (s *scope[T]) setCondition(t string, status metav1.ConditionStatus, reason, msg string) bool {
	// Copy what was there first: SetStatusCondition updates the element FindStatusCondition points to.
	var was metav1.Condition
	if old := meta.FindStatusCondition(s.status.Conditions, t); old != nil {
		was = *old
	}
	meta.SetStatusCondition(&s.status.Conditions, metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: s.obj.GetGeneration(),
	})
	return was.Status != status || was.Reason != reason
}

// notReady sets Ready=False, with a Warning event on the transition.
func (s *scope[T]) notReady(reason, msg string) { s.apply(readyFalse(reason, msg, false)) }

// keepsReady reports whether a Ready=False of reason with UnlessLive is left out: the Secret holds
// a working token (docs/design.md §4: an engine problem leaves Ready as it was for a token that
// keeps working), or the token expired and Expired says more (only
// NotPermitted says more than Expired).
func (s *scope[T]) keepsReady(reason string) bool {
	if meta.IsStatusConditionTrue(s.status.Conditions, tokensv1.ConditionReady) && s.status.Current != nil {
		return true
	}
	return s.expired() && reason != tokensv1.ReasonNotPermitted
}

// apply sets the conditions cs in order, emitting their events as ConditionChange says.
func (s *scope[T]) apply(cs ...ConditionChange) {
	for _, c := range cs {
		if c.UnlessLive && c.Type == tokensv1.ConditionReady && s.keepsReady(c.Reason) {
			continue
		}
		wasFalse := meta.IsStatusConditionFalse(s.status.Conditions, c.Type)
		changed := s.setCondition(c.Type, c.Status, c.Reason, c.Message)
		if e := c.Event; e != nil && ((c.OnRecovery && wasFalse) || (!c.OnRecovery && changed)) {
			s.event(e.Type, e.Reason, e.Action, e.Note)
		}
	}
}

// applyOutcome applies o's conditions and returns its result.
func (s *scope[T]) applyOutcome(o ErrorOutcome) (ctrl.Result, error) {
	s.apply(o.Conditions...)
	return o.Result()
}

// ready sets Ready=True for the current token.
func (s *scope[T]) ready() {
	c := s.status.Current
	expiry := "never expires"
	if c.ExpiresAt != nil {
		expiry = "expires at " + c.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	msg := fmt.Sprintf("Secret %q holds token %q (revision %d); it %s", s.secretName, c.TokenName, c.Revision, expiry)
	if c.RenewAt != nil {
		msg += fmt.Sprintf(" and is renewed at %s", c.RenewAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if s.mintNotice != "" {
		msg += ". " + s.mintNotice // e.g. Cloud Dedicated's activation delay, right after the mint
	}
	s.setCondition(tokensv1.ConditionReady, metav1.ConditionTrue, tokensv1.ReasonMinted, msg)
	if !meta.IsStatusConditionFalse(s.status.Conditions, tokensv1.ConditionExpired) {
		// An Expired=False reason (RenewedAfterExpiry: the gap before this token) stays until the next mint.
		s.setCondition(tokensv1.ConditionExpired, metav1.ConditionFalse, tokensv1.ReasonNotExpired, notExpiredMessage)
	}
}

// notExpiredMessage is the message of Expired=False reason NotExpired.
const notExpiredMessage = "The token has not reached its expiry"

// engineReachable records a successful call to the resource's engine.
func (s *scope[T]) engineReachable() { s.apply(answered(engineName(s.engine))) }

// engineName names an engine in messages: `ClusterTokenEngine "default"`.
func engineName(e *engineref.Resolved) string { return fmt.Sprintf("%s %q", e.Kind, e.Name) }

// noSecretConflict clears SecretConflict.
func (s *scope[T]) noSecretConflict() {
	s.setCondition(tokensv1.ConditionSecretConflict, metav1.ConditionFalse, tokensv1.ReasonNoConflict,
		fmt.Sprintf("Secret %q is ours or does not exist yet", s.secretName))
}

// secretConflict reports a Secret of our name that is not ours; it is never overwritten.
func (s *scope[T]) secretConflict() (ctrl.Result, error) {
	return s.applyOutcome(MapError(s.errorInput("", nil), errSecretNotOurs))
}

// errorInput is MapError's input for a failure of op in eng (nil: none involved).
func (s *scope[T]) errorInput(op string, eng *engineref.Resolved) ErrorInput {
	in := ErrorInput{Op: op, Kind: s.r.Kind.Name, Secret: s.secretName, Deleting: s.deleting()}
	if eng != nil {
		in.Engine = engineName(eng)
	}
	return in
}

// engineFailure maps the error of an engine call (op says what was attempted) in eng, the
// engine that failed, through MapError, the one mapping (docs/design.md "The path of a
// reconcile", step 7), and applies it.
func (s *scope[T]) engineFailure(op string, eng *engineref.Resolved, err error) (ctrl.Result, error) {
	return s.applyOutcome(MapError(s.errorInput(op, eng), err))
}

// kubeFailure maps the error of a Kubernetes write: a conflict requeues (docs/design.md §3:
// another worker got there), anything else backs off with status untouched.
func (s *scope[T]) kubeFailure(err error) (ctrl.Result, error) {
	in := s.errorInput("", nil)
	in.Kubernetes = true
	return s.applyOutcome(MapError(in, err))
}

// tokenRef is one of the resource's engine tokens and the engine it was minted in (nil: the
// resource's own engine, for records written before engines were recorded). ID is the engine's
// id for it when status recorded one (a pending mint has none): engines whose names are not
// unique revoke by it without listing every token (engine.Engine.Revoke).
type tokenRef struct {
	Name   string
	ID     string
	Engine *tokensv1.EngineIdentity
}

// refOf is the tokenRef of a recorded token.
func refOf(r *tokensv1.TokenRecord) tokenRef {
	return tokenRef{Name: r.TokenName, ID: r.TokenID, Engine: r.Engine}
}

// tokenNamesOf lists the names of refs, for messages.
func tokenNamesOf(refs []tokenRef) []string {
	names := make([]string, len(refs))
	for i, t := range refs {
		names[i] = t.Name
	}
	return names
}

// engineOf is the engine a token recorded with id lives in: the resource's own engine when id
// names it (or is nil), otherwise that engine resource, resolved for revocation only
// (docs/design.md §4: a token is revoked where it was minted, even after spec.engineRef moved).
func (s *scope[T]) engineOf(ctx context.Context, id *tokensv1.EngineIdentity) (*engineref.Resolved, error) {
	if s.engine != nil && s.engine.Is(id) {
		return s.engine, nil
	}
	if id == nil { // deletion resolves the resource's own engine only when a token needs it
		resolved, err := s.r.Resolver.ResolveForRevocation(ctx, s.obj.GetNamespace(), s.spec.EngineRef)
		if err != nil {
			return nil, err
		}
		s.engine = resolved
		return resolved, nil
	}
	for _, o := range s.elsewhere {
		if o.Is(id) {
			return o, nil
		}
	}
	resolved, err := s.r.Resolver.ResolveForRevocation(ctx, s.obj.GetNamespace(), &tokensv1.EngineReference{Kind: id.Kind, Name: id.Name})
	if refErr, ok := engine.AsUnusable(err); ok {
		return nil, engineref.Errorf(refErr.Reason, "the engine that minted it, %s %q: %s", id.Kind, id.Name, refErr.Message)
	}
	if err != nil {
		return nil, err
	}
	s.elsewhere = append(s.elsewhere, resolved)
	return resolved, nil
}

// revoke revokes one of this resource's engine tokens in the engine it was minted in. A name
// without the resource's own prefix (a status someone edited) is not sent to the engine: it is
// reported with a Warning and counts as done, so that it leaves status instead of blocking
// renewal or deletion.
func (s *scope[T]) revoke(ctx context.Context, t tokenRef) error {
	name := t.Name
	if !OwnsTokenName(s.obj.GetNamespace(), s.obj.GetName(), s.obj.GetUID(), name) {
		msg := fmt.Sprintf("Not revoking %q: status names a token that is not this %s's (names start with %q); it was left alone in the engine and dropped from status",
			name, s.r.Kind.Name, TokenNamePrefix(s.obj.GetNamespace(), s.obj.GetName(), s.obj.GetUID()))
		s.log(ctx).Info("Refused to revoke a token name that is not ours", "tokenName", name)
		s.event(corev1.EventTypeWarning, tokensv1.ReasonNotOurToken, actionRevoke, msg)
		return nil
	}
	eng, err := s.engineOf(ctx, t.Engine)
	if err != nil {
		return err
	}
	return eng.Engine.Revoke(ctx, name, t.ID)
}

// tokenEngineFailure maps a failed call about t through engineFailure, naming the engine t was
// minted in when it resolves (an engine that cannot be resolved is reported as unusable).
func (s *scope[T]) tokenEngineFailure(ctx context.Context, op string, t tokenRef, err error) (ctrl.Result, error) {
	eng := s.engine
	if Classify(err) != ClassUnusable {
		if e, rerr := s.engineOf(ctx, t.Engine); rerr == nil {
			eng = e
		}
	}
	return s.engineFailure(op, eng, err)
}

// event emits an event about the token resource. Notes never carry a token: they are built
// from names, reasons and engine error messages, which adapters keep free of plaintext.
func (s *scope[T]) event(eventtype, reason, action, note string) {
	if s.r.Recorder == nil {
		return
	}
	s.r.Recorder.Eventf(s.obj, nil, eventtype, reason, action, "%s", note)
}

// deleting reports whether the resource is being deleted.
func (s *scope[T]) deleting() bool { return !s.obj.GetDeletionTimestamp().IsZero() }
