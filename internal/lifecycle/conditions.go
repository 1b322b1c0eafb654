package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

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
func (s *scope[T]) notReady(reason, msg string) {
	if s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, reason, msg) && reason != tokensv1.ReasonMinting {
		s.event(corev1.EventTypeWarning, reason, actionCheck, msg)
	}
}

// notReadyUnlessLive sets Ready=False unless the Secret already holds a token that works:
// docs/design.md §4, an engine problem leaves Ready as it was for a token that keeps working.
func (s *scope[T]) notReadyUnlessLive(reason, msg string) {
	if meta.IsStatusConditionTrue(s.status.Conditions, tokensv1.ConditionReady) && s.status.Current != nil {
		return
	}
	if s.expired() && reason != tokensv1.ReasonNotPermitted {
		return // Expired says more than an engine problem; EngineReachable carries that
	}
	s.notReady(reason, msg)
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

// engineReachable records a successful engine call.
func (s *scope[T]) engineReachable() {
	recovered := meta.IsStatusConditionFalse(s.status.Conditions, tokensv1.ConditionEngineReachable)
	msg := fmt.Sprintf("%s %q answered", s.engine.Kind, s.engine.Name)
	s.setCondition(tokensv1.ConditionEngineReachable, metav1.ConditionTrue, tokensv1.ReasonReachable, msg)
	if recovered {
		s.event(corev1.EventTypeNormal, tokensv1.ReasonReachable, actionCheck, msg+" again")
	}
}

// noSecretConflict clears SecretConflict.
func (s *scope[T]) noSecretConflict() {
	s.setCondition(tokensv1.ConditionSecretConflict, metav1.ConditionFalse, tokensv1.ReasonNoConflict,
		fmt.Sprintf("Secret %q is ours or does not exist yet", s.secretName))
}

// secretConflict reports a Secret of our name that is not ours; it is never overwritten.
func (s *scope[T]) secretConflict() (ctrl.Result, error) {
	msg := fmt.Sprintf("Secret %q exists and is not owned by this %s; it is never overwritten. "+
		"Delete or rename that Secret, or set spec.secret.name to another name", s.secretName, s.r.Kind.Name)
	if s.setCondition(tokensv1.ConditionSecretConflict, metav1.ConditionTrue, tokensv1.ReasonSecretExists, msg) {
		s.event(corev1.EventTypeWarning, tokensv1.ReasonSecretExists, actionWrite, msg)
	}
	s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonSecretExists, msg)
	return ctrl.Result{RequeueAfter: SecretConflictRetryInterval}, nil
}

// engineFailure maps a typed engine error to conditions and a requeue. It is the only place
// that does (STYLE 5), for every engine call of the lifecycle; op says what was attempted.
//   - Permanent: terminal; Ready=False (EngineRejected or the error's reason), no retry until
//     the spec changes. During deletion it is retried with the workqueue's capped backoff
//     instead: nothing else would wake a resource that is only waiting to be released.
//   - Pending: the engine asked us to wait; Ready=False with its reason, RequeueAfter, no error.
//   - Unauthorized: EngineReachable=False reason Unauthorized; backoff.
//   - anything else (Transient, a Conflict or NotFound that escaped its caller): EngineReachable
//     =False reason EngineError; backoff by returning the error.
//
// Ready is left alone while the Secret holds a working token (docs/design.md §4). During deletion,
// RevocationFailed=True says how to release the resource on purpose.
func (s *scope[T]) engineFailure(op string, err error) (ctrl.Result, error) {
	msg := fmt.Sprintf("%s: %v", op, err)
	if s.deleting() {
		if s.setCondition(tokensv1.ConditionRevocationFailed, metav1.ConditionTrue, tokensv1.ReasonRevocationFailed,
			msg+fmt.Sprintf("; retrying with backoff. To release the %s without revoking, annotate it %s=true",
				s.r.Kind.Name, tokensv1.SkipRevocationAnnotation)) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonRevocationFailed, actionRevoke, msg)
		}
	}
	reason := engine.ReasonOf(err)
	switch engine.KindOf(err) {
	case engine.Permanent:
		s.engineReachable()
		s.notReady(orDefault(reason, tokensv1.ReasonEngineRejected), msg+"; the engine will not accept this, fix the spec")
		if s.deleting() {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, nil
	case engine.Pending:
		s.engineReachable()
		s.notReadyUnlessLive(orDefault(reason, tokensv1.ReasonMinting), msg)
		return ctrl.Result{RequeueAfter: pendingRequeue(err)}, nil
	case engine.Unauthorized:
		emsg := fmt.Sprintf("%s %q refused the operator's credentials (%s); check the admin token Secret the engine resource references",
			s.engine.Kind, s.engine.Name, msg)
		if s.setCondition(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, tokensv1.ReasonUnauthorized, emsg) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonUnauthorized, op, emsg)
		}
		s.notReadyUnlessLive(tokensv1.ReasonUnauthorized, emsg)
		return ctrl.Result{}, err
	default:
		emsg := fmt.Sprintf("%s %q: %s; retrying with backoff, the Secret is kept", s.engine.Kind, s.engine.Name, msg)
		if s.setCondition(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, tokensv1.ReasonEngineError, emsg) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonEngineError, op, emsg)
		}
		s.notReadyUnlessLive(tokensv1.ReasonEngineError, emsg)
		return ctrl.Result{}, err
	}
}

// tokenRef is one of the resource's engine tokens and the engine it was minted in (nil: the
// resource's own engine, for records written before engines were recorded).
type tokenRef struct {
	Name   string
	Engine *tokensv1.EngineIdentity
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
	return eng.Engine.Revoke(ctx, name)
}

// revocationFailed maps a failed revocation of t: an engine that cannot be resolved is reported
// like an unusable engine, an engine error by engineFailure, naming the engine that failed.
func (s *scope[T]) tokenEngineFailure(ctx context.Context, op string, t tokenRef, err error) (ctrl.Result, error) {
	if refErr, ok := engine.AsUnusable(err); ok {
		return s.unusableEngine(refErr), nil
	}
	if eng, rerr := s.engineOf(ctx, t.Engine); rerr == nil && eng != s.engine {
		own := s.engine
		s.engine = eng // engineFailure's messages name the engine that failed
		defer func() { s.engine = own }()
	}
	return s.engineFailure(op, err)
}

// pendingRequeue is the wait a Pending error asks for, or EngineRetryInterval.
func pendingRequeue(err error) time.Duration {
	var e *engine.Error
	if errors.As(err, &e) && e.RequeueAfter > 0 {
		return e.RequeueAfter
	}
	return EngineRetryInterval
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
