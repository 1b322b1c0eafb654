package lifecycle

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// ErrorClass is what an error means for a resource, whichever call returned it. Classify is the
// one classification of errors (docs/design.md "The path of a reconcile", step 7): MapError turns
// a class into a token's conditions, event and outcome, and controllers/engine_outcome.go:
// decideOutcome into an engine resource's conditions.
type ErrorClass int

const (
	// ClassEngineError: a Transient engine error, an untyped error (a network failure, a context
	// deadline), or a Conflict or NotFound that escaped its caller. Retried with backoff; never
	// terminal.
	ClassEngineError ErrorClass = iota
	// ClassRejected: engine.Permanent, the engine will not accept this request. Terminal: only a
	// spec change can help, and a spec change (a new generation) reconciles the token again.
	ClassRejected
	// ClassPending: engine.Pending, the engine asked us to wait (RequeueAfter).
	ClassPending
	// ClassUnauthorized: engine.Unauthorized, the engine refused the operator's credentials.
	// Backoff: the credentials are in a Secret, not the token's spec.
	ClassUnauthorized
	// ClassUnusable: engine.Unusable, the engine resource cannot serve the token now (not found,
	// not Ready, not permitted, no credentials). Retried after EngineRetryInterval, not terminal:
	// a Namespace's labels can change the answer and nothing watches Namespaces.
	ClassUnusable
	// ClassAPIConflict: a Kubernetes optimistic-concurrency conflict; another worker got there
	// (docs/design.md §3). Requeued after ConflictRequeue.
	ClassAPIConflict
	// ClassAPIError: any other Kubernetes API error (NotFound, Forbidden, a timeout). Backoff,
	// status untouched.
	ClassAPIError
	// ClassSecretNotOurs: the target Secret exists and is not this resource's.
	ClassSecretNotOurs
	// ClassSuperseded: the Secret already holds a newer revision than the one being written.
	ClassSuperseded
)

var classNames = map[ErrorClass]string{
	ClassEngineError: "EngineError", ClassRejected: "Rejected", ClassPending: "Pending",
	ClassUnauthorized: "Unauthorized", ClassUnusable: "Unusable", ClassAPIConflict: "APIConflict",
	ClassAPIError: "APIError", ClassSecretNotOurs: "SecretNotOurs", ClassSuperseded: "Superseded",
}

func (c ErrorClass) String() string { return classNames[c] }

// Classify returns the class of err. A typed engine error is classified by its kind before any
// Kubernetes error it may wrap, since the engine layer already decided what it means; anything
// unrecognised is ClassEngineError, so that an unknown failure is never taken for a permanent one.
func Classify(err error) ErrorClass {
	var e *engine.Error
	switch {
	case errors.Is(err, errSuperseded):
		return ClassSuperseded
	case errors.Is(err, errSecretNotOurs):
		return ClassSecretNotOurs
	case errors.As(err, &e):
		switch e.Kind {
		case engine.Permanent:
			return ClassRejected
		case engine.Pending:
			return ClassPending
		case engine.Unauthorized:
			return ClassUnauthorized
		case engine.Unusable:
			return ClassUnusable
		}
		return ClassEngineError
	case apierrors.IsConflict(err):
		return ClassAPIConflict
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return ClassAPIError
	}
	return ClassEngineError
}

// ErrorInput is what MapError needs besides the error: what was attempted and where.
type ErrorInput struct {
	// Op says what was attempted, e.g. `minting token "x"`; it starts engine error messages.
	Op string
	// Engine names the engine that failed, `ClusterTokenEngine "default"` (engineName).
	Engine string
	// Kind is the token resource's kind, for the skip-revocation hint.
	Kind string
	// Secret is the target Secret's name.
	Secret string
	// Deleting is true while the resource is being deleted: RevocationFailed carries the failure,
	// and nothing is terminal (nothing else would wake a resource only waiting to be released).
	Deleting bool
	// Kubernetes is true when the error came from a Kubernetes call: unless it is a conflict, it
	// backs off with status untouched, whatever its class (an untyped network error is not the
	// engine's).
	Kubernetes bool
}

// Event is an event to emit about the token resource.
type Event struct{ Type, Reason, Action, Note string }

// ConditionChange is one condition to set, with the event that goes with it.
type ConditionChange struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
	// UnlessLive leaves a Ready=False out while the Secret holds a working token (docs/design.md §4).
	UnlessLive bool
	// Event is emitted when the condition's status or reason changes (with OnRecovery: only when
	// it was False before); nil: none.
	Event      *Event
	OnRecovery bool
}

// ErrorOutcome is what one error does to a token resource: conditions in order, then the result.
type ErrorOutcome struct {
	Class      ErrorClass
	Conditions []ConditionChange
	// RequeueAfter asks for the next pass after that long, with no error.
	RequeueAfter time.Duration
	// Err is returned to controller-runtime: rate-limited backoff, or none at all when Terminal.
	Err      error
	Terminal bool
}

// Result is the outcome as Reconcile returns it; a terminal error is wrapped in
// reconcile.TerminalError, which controller-runtime logs and counts but does not requeue.
func (o ErrorOutcome) Result() (ctrl.Result, error) {
	switch {
	case o.Terminal:
		return ctrl.Result{}, reconcile.TerminalError(o.Err)
	case o.Err != nil:
		return ctrl.Result{}, o.Err
	}
	return ctrl.Result{RequeueAfter: o.RequeueAfter}, nil
}

// MapError is the one mapping of a lifecycle error to conditions, events and a requeue (table-
// tested in outcome_test.go). Pure: it reads nothing but its arguments.
func MapError(in ErrorInput, err error) ErrorOutcome {
	o := ErrorOutcome{Class: Classify(err)}
	switch o.Class {
	case ClassAPIConflict:
		o.RequeueAfter = ConflictRequeue
		return o
	case ClassSuperseded:
		// Another worker abandoned our mint and wrote a newer revision: ours is dead weight.
		o.RequeueAfter = StaleRequeue
		return o
	case ClassSecretNotOurs:
		o.Conditions = secretConflictChanges(in)
		o.RequeueAfter = SecretConflictRetryInterval
		return o
	}
	if in.Kubernetes || o.Class == ClassAPIError {
		o.Err = err
		return o
	}
	if o.Class == ClassUnusable {
		o.Conditions = unusableChanges(in, err)
		o.RequeueAfter = EngineRetryInterval
		return o
	}

	msg := fmt.Sprintf("%s: %v", in.Op, err)
	if in.Deleting {
		o.Conditions = append(o.Conditions, ConditionChange{
			Type: tokensv1.ConditionRevocationFailed, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonRevocationFailed,
			Message: msg + fmt.Sprintf("; retrying with backoff. To release the %s without revoking, annotate it %s=true",
				in.Kind, tokensv1.SkipRevocationAnnotation),
			Event: &Event{corev1.EventTypeWarning, tokensv1.ReasonRevocationFailed, actionRevoke, msg},
		})
	}
	reason := engine.ReasonOf(err)
	switch o.Class {
	case ClassRejected:
		o.Conditions = append(o.Conditions, answered(in.Engine),
			readyFalse(orDefault(reason, tokensv1.ReasonEngineRejected), msg+"; the engine will not accept this, fix the spec", false))
		o.Err = err
		o.Terminal = !in.Deleting
	case ClassPending:
		o.Conditions = append(o.Conditions, answered(in.Engine), readyFalse(orDefault(reason, tokensv1.ReasonMinting), msg, true))
		o.RequeueAfter = pendingRequeue(err)
	case ClassUnauthorized:
		emsg := fmt.Sprintf("%s refused the operator's credentials (%s); check the admin token Secret the engine resource references",
			in.Engine, msg)
		o.Conditions = append(o.Conditions, unreachable(tokensv1.ReasonUnauthorized, in.Op, emsg),
			readyFalse(tokensv1.ReasonUnauthorized, emsg, true))
		o.Err = err
	default:
		emsg := fmt.Sprintf("%s: %s; retrying with backoff, the Secret is kept", in.Engine, msg)
		o.Conditions = append(o.Conditions, unreachable(tokensv1.ReasonEngineError, in.Op, emsg),
			readyFalse(tokensv1.ReasonEngineError, emsg, true))
		o.Err = err
	}
	return o
}

// unusableChanges reports an engine the pass cannot use (not found, not ready, not permitted, no
// credentials) under the resolution's reason; during deletion RevocationFailed says how to
// release the resource without it.
func unusableChanges(in ErrorInput, err error) []ConditionChange {
	var e *engine.Error
	errors.As(err, &e) // ClassUnusable: always an *engine.Error
	msg := e.Message
	var cs []ConditionChange
	if in.Deleting {
		msg += fmt.Sprintf("; the token cannot be revoked until the engine is back. To release the %s without revoking, annotate it %s=true",
			in.Kind, tokensv1.SkipRevocationAnnotation)
		cs = append(cs, ConditionChange{Type: tokensv1.ConditionRevocationFailed, Status: metav1.ConditionTrue, Reason: e.Reason, Message: msg})
	} else {
		cs = append(cs, readyFalse(e.Reason, msg, true))
	}
	return append(cs, ConditionChange{Type: tokensv1.ConditionEngineReachable, Status: metav1.ConditionFalse, Reason: e.Reason, Message: msg})
}

// secretConflictChanges reports a Secret of our name that is not ours; it is never overwritten.
func secretConflictChanges(in ErrorInput) []ConditionChange {
	msg := fmt.Sprintf("Secret %q exists and is not owned by this %s; it is never overwritten. "+
		"Delete or rename that Secret, or set spec.secret.name to another name", in.Secret, in.Kind)
	return []ConditionChange{
		{Type: tokensv1.ConditionSecretConflict, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonSecretExists, Message: msg,
			Event: &Event{corev1.EventTypeWarning, tokensv1.ReasonSecretExists, actionWrite, msg}},
		{Type: tokensv1.ConditionReady, Status: metav1.ConditionFalse, Reason: tokensv1.ReasonSecretExists, Message: msg},
	}
}

// readyFalse is Ready=False with a Warning event on the transition (none for Minting, which is
// progress, not a problem).
func readyFalse(reason, msg string, unlessLive bool) ConditionChange {
	c := ConditionChange{Type: tokensv1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, UnlessLive: unlessLive}
	if reason != tokensv1.ReasonMinting {
		c.Event = &Event{corev1.EventTypeWarning, reason, actionCheck, msg}
	}
	return c
}

// answered is EngineReachable=True after an engine call that got an answer, with a Normal event
// when the engine was unreachable before.
func answered(eng string) ConditionChange {
	msg := eng + " answered"
	return ConditionChange{Type: tokensv1.ConditionEngineReachable, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonReachable,
		Message: msg, Event: &Event{corev1.EventTypeNormal, tokensv1.ReasonReachable, actionCheck, msg + " again"}, OnRecovery: true}
}

// unreachable is EngineReachable=False with a Warning event (action: what was attempted) on the transition.
func unreachable(reason, op, msg string) ConditionChange {
	return ConditionChange{Type: tokensv1.ConditionEngineReachable, Status: metav1.ConditionFalse, Reason: reason, Message: msg,
		Event: &Event{corev1.EventTypeWarning, reason, op, msg}}
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

// isTerminal reports whether err ends the pass for good (ErrorOutcome.Terminal).
func isTerminal(err error) bool { return err != nil && errors.Is(err, reconcile.TerminalError(nil)) }
