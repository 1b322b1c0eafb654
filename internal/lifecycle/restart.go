package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// restartTargets puts the restart annotation on the pod template of every
// spec.secret.rolloutRestartTargets workload, as `kubectl rollout restart` does, so workloads
// that read the token from environment variables pick up the successor before the predecessor
// is revoked. The value is the new token's name: patching twice (a retried pass) changes nothing.
// A target is restarted only if it opts in with RestartOnAnnotation naming this token resource:
// whoever may write a token resource must not be able to restart other teams' workloads. The
// check is a JSON-patch test, so the manager needs no read access to workloads (whose pod
// templates can hold credentials). A missing, unpatchable or not-opted-in target is the
// RolloutRestartFailed condition, never a retry loop: the token itself is fine.
func (s *scope[T]) restartTargets(ctx context.Context) {
	targets := s.spec.Secret.RolloutRestartTargets
	if len(targets) == 0 {
		return
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{tokensv1.RestartedAtAnnotation: s.status.Current.TokenName},
	}}}})
	optedIn, _ := json.Marshal([]map[string]string{{"op": "test",
		"path": "/metadata/annotations/" + strings.ReplaceAll(tokensv1.RestartOnAnnotation, "/", "~1"), "value": s.obj.GetName()}})
	var missing, failed, notOptedIn []string
	for _, t := range targets {
		obj := workload(t.Kind)
		if obj == nil {
			failed = append(failed, fmt.Sprintf("%s/%s (unsupported kind)", t.Kind, t.Name))
			continue
		}
		obj.SetNamespace(s.obj.GetNamespace())
		obj.SetName(t.Name)
		// A test that does not hold is 422 Invalid; our own patch is constant, so that is the only
		// way to get one here.
		err := s.r.Client.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, optedIn))
		if apierrors.IsInvalid(err) {
			notOptedIn = append(notOptedIn, fmt.Sprintf("%s/%s", t.Kind, t.Name))
			continue
		}
		if err == nil {
			err = s.r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
		}
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, fmt.Sprintf("%s/%s", t.Kind, t.Name))
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s/%s (%v)", t.Kind, t.Name, err))
		default:
			s.log(ctx).Info("Restarted workload for the new token", "workloadKind", t.Kind, "workload", t.Name, "tokenName", s.status.Current.TokenName)
		}
	}
	switch {
	case len(failed) > 0:
		msg := "Could not restart " + strings.Join(append(failed, missing...), ", ") + "; restart them by hand to pick up the new token"
		if s.setCondition(tokensv1.ConditionRolloutRestartFailed, metav1.ConditionTrue, tokensv1.ReasonRestartFailed, msg) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonRestartFailed, actionRestart, msg)
		}
	case len(notOptedIn) > 0:
		msg := fmt.Sprintf("%s did not opt in: annotate each %s=%s to let this token restart it (the token itself is fine)",
			strings.Join(notOptedIn, ", "), tokensv1.RestartOnAnnotation, s.obj.GetName())
		if s.setCondition(tokensv1.ConditionRolloutRestartFailed, metav1.ConditionTrue, tokensv1.ReasonTargetNotOptedIn, msg) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonTargetNotOptedIn, actionRestart, msg)
		}
	case len(missing) > 0:
		msg := fmt.Sprintf("%s not found in namespace %q; fix spec.secret.rolloutRestartTargets (the token itself is fine)",
			strings.Join(missing, ", "), s.obj.GetNamespace())
		if s.setCondition(tokensv1.ConditionRolloutRestartFailed, metav1.ConditionTrue, tokensv1.ReasonTargetNotFound, msg) {
			s.event(corev1.EventTypeWarning, tokensv1.ReasonTargetNotFound, actionRestart, msg)
		}
	default:
		s.setCondition(tokensv1.ConditionRolloutRestartFailed, metav1.ConditionFalse, tokensv1.ReasonRestarted,
			fmt.Sprintf("Restarted %d workload(s) for token %q", len(targets), s.status.Current.TokenName))
	}
}

// workload returns an empty object of a rollout restart target kind, or nil.
func workload(kind tokensv1.RolloutTargetKind) client.Object {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	}
	return nil
}
