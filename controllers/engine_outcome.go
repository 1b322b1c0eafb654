package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// maxErrorMessage bounds the engine's own words in a condition message.
const maxErrorMessage = 1024

// checkOutcome is what one engine check concluded, ready to be written as conditions.
type checkOutcome struct {
	ready, reachable        metav1.ConditionStatus
	reason, reachableReason string
	message, reachMessage   string
}

// decideOutcome turns the result of building the client (buildErr) and of Check (checkErr) into
// conditions. It is the one place engine errors become engine-resource conditions, by the class
// lifecycle.Classify gives them, the classification token errors get too (docs/design.md "The
// path of a reconcile", step 7). Nothing here is terminal: failing engines are re-checked every
// retry, which messages quote, since their cause (a credentials Secret, the engine itself) is
// outside the engine's spec.
func decideOutcome(d enginefactory.Description, buildErr, checkErr error, retry time.Duration) checkOutcome {
	where := fmt.Sprintf("The engine at %s", d.URL)
	class := lifecycle.Classify(checkErr)
	switch {
	case buildErr != nil:
		reason := engine.ReasonOf(buildErr)
		if reason == "" {
			reason = tokensv1.ReasonInvalidConfig
		}
		return checkOutcome{
			ready: metav1.ConditionFalse, reason: reason, message: clip(buildErr.Error()),
			reachable: metav1.ConditionUnknown, reachableReason: tokensv1.ReasonNotChecked,
			reachMessage: "The engine was not contacted: fix the cause in the Ready condition first.",
		}
	case checkErr == nil:
		msg := fmt.Sprintf("%s accepted the credentials in Secret %s.", where, d.Secret)
		return checkOutcome{
			ready: metav1.ConditionTrue, reason: tokensv1.ReasonReachable, message: msg,
			reachable: metav1.ConditionTrue, reachableReason: tokensv1.ReasonReachable, reachMessage: msg,
		}
	case class == lifecycle.ClassUnauthorized:
		msg := fmt.Sprintf("%s refused the credentials in Secret %s: put a valid admin token there; the operator re-reads it at the next check (within %s). Engine said: %s",
			where, d.Secret, retry, clip(checkErr.Error()))
		return checkOutcome{
			ready: metav1.ConditionFalse, reason: tokensv1.ReasonUnauthorized, message: msg,
			reachable: metav1.ConditionFalse, reachableReason: tokensv1.ReasonUnauthorized, reachMessage: msg,
		}
	case class == lifecycle.ClassRejected:
		msg := fmt.Sprintf("%s answered the check with an error that retrying will not fix: check that the URL points at a %s engine. Engine said: %s",
			where, d.Type, clip(checkErr.Error()))
		return checkOutcome{
			ready: metav1.ConditionFalse, reason: tokensv1.ReasonEngineRejected, message: msg,
			reachable: metav1.ConditionTrue, reachableReason: tokensv1.ReasonReachable,
			reachMessage: where + " answered.",
		}
	}
	msg := fmt.Sprintf("%s could not be reached: check the URL and that the engine is running; retried every %s. Error: %s",
		where, retry, clip(checkErr.Error()))
	return checkOutcome{
		ready: metav1.ConditionFalse, reason: tokensv1.ReasonUnreachable, message: msg,
		reachable: metav1.ConditionFalse, reachableReason: tokensv1.ReasonUnreachable, reachMessage: msg,
	}
}

// servesNoNamespaceNote is added to a ClusterTokenEngine's Ready message while it serves no
// namespace (no allowedNamespaces: default-deny, docs/security.md), so the engine itself says why
// every token that uses it is NotPermitted. A TokenEngine always serves its own namespace.
func servesNoNamespaceNote(obj tokensv1.GenericEngine) string {
	if obj.EngineKind() != tokensv1.ClusterTokenEngineKind {
		return ""
	}
	if a := obj.GetAllowedNamespaces(); a != nil && (len(a.MatchNames) > 0 || a.Selector != nil) {
		return ""
	}
	return " It serves no namespace: set spec.allowedNamespaces (matchNames or a selector) to name the namespaces whose tokens may use it."
}

func clip(s string) string {
	if len(s) > maxErrorMessage {
		return s[:maxErrorMessage] + "…"
	}
	return s
}

// applyOutcome writes o into st for generation gen and reports whether anything changed.
// lastCheckedAt is stamped only when something else changed: re-checks that confirm the status
// write nothing (docs/design.md §8, zero writes at steady state), so lastCheckedAt is when the current
// outcome was first observed, not the latest confirmation.
func applyOutcome(st *tokensv1.EngineStatus, gen int64, d enginefactory.Description, o checkOutcome, now time.Time) bool {
	before := st.DeepCopy()
	st.ObservedGeneration = gen
	st.Type, st.URL = d.Type, d.URL
	t := metav1.NewTime(now)
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: tokensv1.ConditionReady, Status: o.ready,
		Reason: o.reason, Message: o.message, ObservedGeneration: gen, LastTransitionTime: t})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: tokensv1.ConditionEngineReachable, Status: o.reachable,
		Reason: o.reachableReason, Message: o.reachMessage, ObservedGeneration: gen, LastTransitionTime: t})
	if equality.Semantic.DeepEqual(before, st) {
		return false
	}
	st.LastCheckedAt = &t
	return true
}

// readyTransition reports whether the Ready condition's status or reason differs between two
// statuses: the only changes that deserve an event.
func readyTransition(before, after *tokensv1.EngineStatus) bool {
	b := meta.FindStatusCondition(before.Conditions, tokensv1.ConditionReady)
	a := meta.FindStatusCondition(after.Conditions, tokensv1.ConditionReady)
	if a == nil {
		return false
	}
	return b == nil || b.Status != a.Status || b.Reason != a.Reason
}
