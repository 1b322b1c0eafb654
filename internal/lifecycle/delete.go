package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// reconcileDelete runs the finalizer (docs/design.md §4): revoke every token the resource may have
// (current, pending, previous), delete the Secret, release. deletionPolicy Retain keeps the token
// the Secret holds and the Secret (no longer owned, so garbage collection leaves it); the
// skip-revocation annotation releases without revoking. Engine failures keep the finalizer.
func (r *Reconciler[T]) reconcileDelete(ctx context.Context, s *scope[T]) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s.obj, tokensv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	retain := s.spec.DeletionPolicy == tokensv1.DeletionPolicyRetain
	skip := s.obj.GetAnnotations()[tokensv1.SkipRevocationAnnotation] == "true"
	if err := s.loadSecret(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var kept string // the token Retain leaves live: the one the Secret holds
	if retain && s.secret != nil && ownedBy(s.secret, s.obj.GetUID()) {
		kept = s.secret.Annotations[tokensv1.TokenNameAnnotation]
	}
	if retain && kept == "" && s.status.Current != nil {
		// An earlier pass already handed the Secret over (and then failed to release the
		// finalizer): the token it holds is still the current one.
		kept = s.status.Current.TokenName
	}
	refs := s.tokenRefs(kept)
	names := tokenNamesOf(refs)

	switch {
	case len(names) == 0:
	case skip:
		msg := fmt.Sprintf("Released without revoking %s because of the annotation %s=true; they stay valid in the engine until they expire or are deleted there",
			strings.Join(names, ", "), tokensv1.SkipRevocationAnnotation)
		s.log(ctx).Info("Released token resource without revocation", "tokenNames", names)
		s.event(corev1.EventTypeWarning, tokensv1.ReasonRevocationSkipped, actionRevoke, msg)
	default:
		// Each token is revoked in the engine that minted it (docs/design.md §4); the
		// resource's own engine is resolved only if a token lives there.
		for _, t := range refs {
			if err := s.revoke(ctx, t); err != nil {
				return s.tokenEngineFailure(ctx, fmt.Sprintf("revoking token %q", t.Name), t, err)
			}
		}
		if s.engine != nil {
			s.engineReachable()
		}
		s.setCondition(tokensv1.ConditionRevocationFailed, metav1.ConditionFalse, tokensv1.ReasonRevoked, "Revoked "+strings.Join(names, ", "))
		s.log(ctx).Info("Revoked tokens of deleted token resource", "tokenNames", names)
	}

	if err := s.releaseSecret(ctx, retain); err != nil {
		return s.kubeFailure(err)
	}
	r.forget(client.ObjectKeyFromObject(s.obj))
	if err := s.patchMetadata(ctx, func(o T) { controllerutil.RemoveFinalizer(o, tokensv1.Finalizer) }, func() {}); err != nil {
		if apierrors.IsNotFound(err) {
			s.released = true
			return ctrl.Result{}, nil
		}
		return s.kubeFailure(err)
	}
	s.released = true
	return ctrl.Result{}, nil
}

// tokenRefs lists every engine token the resource may own, except kept, with its engine.
func (s *scope[T]) tokenRefs(kept string) []tokenRef {
	var refs []tokenRef
	add := func(t tokenRef) {
		if t.Name != "" && t.Name != kept && !slices.ContainsFunc(refs, func(r tokenRef) bool { return r.Name == t.Name }) {
			refs = append(refs, t)
		}
	}
	if c := s.status.Current; c != nil {
		add(refOf(c))
	}
	if p := s.status.Pending; p != nil {
		add(tokenRef{Name: p.TokenName, Engine: p.Engine})
	}
	for i := range s.status.Previous {
		add(refOf(&s.status.Previous[i]))
	}
	return refs
}

// releaseSecret deletes our Secret, or with Retain hands it over: our ownerReference and labels
// go, so garbage collection leaves it and it is the user's from now on.
func (s *scope[T]) releaseSecret(ctx context.Context, retain bool) error {
	sec := s.secret
	if sec == nil || !ownedBy(sec, s.obj.GetUID()) {
		return nil // never ours to touch
	}
	if !retain {
		err := s.r.Client.Delete(ctx, sec, client.Preconditions{UID: &sec.UID})
		return client.IgnoreNotFound(err)
	}
	// The cached copy has no labels (controllers/compact.go): name ours in the patch's base, so
	// the patch removes them.
	base := sec.DeepCopy()
	base.Labels = mergeInto(base.Labels, map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue, tokensv1.OwnerUIDLabel: string(s.obj.GetUID())})
	sec = base.DeepCopy()
	refs := sec.OwnerReferences[:0]
	for _, ref := range sec.OwnerReferences {
		if ref.UID != s.obj.GetUID() {
			refs = append(refs, ref)
		}
	}
	sec.OwnerReferences = refs
	delete(sec.Labels, tokensv1.ManagedByLabel)
	delete(sec.Labels, tokensv1.OwnerUIDLabel)
	return client.IgnoreNotFound(s.patchSecret(ctx, base, sec))
}
