// The engine a token may use, what its spec asks the engine's policy for, and what happens when
// the engine no longer permits a resource's live tokens (docs/design.md §4, "Not permitted").

package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engineref"
)

// resolve finds the token's engine. A live resource asks for what its spec requests, which the
// engine's allowedNamespaces and policy must permit; a resource being deleted only needs the
// engine to revoke, which is never refused.
func (s *scope[T]) resolve(ctx context.Context) (*engineref.Resolved, error) {
	if s.deleting() {
		return s.r.Resolver.ResolveForRevocation(ctx, s.obj.GetNamespace(), s.spec.EngineRef)
	}
	return s.r.Resolver.Resolve(ctx, s.obj.GetNamespace(), s.spec.EngineRef, s.policyRequest())
}

// policyRequest is what the spec asks of the engine, for its policy. A malformed expiresAfter
// counts as none here; minting reports it as InvalidSpec.
func (s *scope[T]) policyRequest() engineref.Request {
	req := requestFor(s.perms)
	req.ExpiresAfter, _ = ParseDuration(s.spec.ExpiresAfter)
	return req
}

// requestFor lists the database and system names and the actions permissions ask for.
func requestFor(perms []engine.Permission) engineref.Request {
	var req engineref.Request
	for _, p := range perms {
		for _, a := range p.Actions {
			if !slices.Contains(req.Actions, string(a)) {
				req.Actions = append(req.Actions, string(a))
			}
		}
		switch p.Type {
		case engine.ResourceDatabase:
			req.Databases = append(req.Databases, p.Names...)
		case engine.ResourceSystem:
			req.SystemResources = append(req.SystemResources, p.Names...)
		}
	}
	return req
}

// liveTokens lists the engine tokens the resource may own (current, pending, previous),
// except a current token whose expiry was carried out (see HasLiveTokens).
func (s *scope[T]) liveTokens() []tokenRef {
	var expired string
	if s.expired() && s.status.Current != nil {
		expired = s.status.Current.TokenName
	}
	return s.tokenRefs(expired)
}

// revokeNotPermitted carries out ActionRevokeNotPermitted: every engine token of a resource its
// engine no longer permits (a policy or allowedNamespaces change) is revoked, the Secret keeps no
// token (like expiry), status forgets the tokens, and Ready=False NotPermitted with a Warning
// event. Should the engine permit the spec again, the next pass mints a new token as if for the
// first time; an expired resource stays expired (its current record is kept, see HasLiveTokens).
func (s *scope[T]) revokeNotPermitted(ctx context.Context) (ctrl.Result, error) {
	denied := s.denied
	refs := s.liveTokens()
	names := tokenNamesOf(refs)
	// Each token is revoked in the engine that minted it (revoke → engineOf, docs/design.md §4),
	// so the resource's own engine is only needed for its own tokens: when it cannot be resolved
	// for revocation, tokens minted elsewhere are still revoked.
	if resolved, err := s.r.Resolver.ResolveForRevocation(ctx, s.obj.GetNamespace(), s.spec.EngineRef); err == nil {
		s.engine = resolved
	} else if _, ok := engine.AsUnusable(err); !ok {
		return ctrl.Result{}, err
	}
	for _, t := range refs {
		err := s.revoke(ctx, t)
		if refErr, ok := engine.AsUnusable(err); ok { // only resolving its engine gives Unusable
			msg := fmt.Sprintf("%s; its tokens %s cannot be revoked until the engine is usable: %s",
				denied.Message, strings.Join(names, ", "), refErr.Message)
			s.notReady(tokensv1.ReasonNotPermitted, msg)
			s.setCondition(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, refErr.Reason, refErr.Message)
			return ctrl.Result{RequeueAfter: EngineRetryInterval}, nil
		}
		if err != nil {
			res, rerr := s.tokenEngineFailure(ctx, fmt.Sprintf("revoking token %q, which the engine no longer permits", t.Name), t, err)
			// NotPermitted says more than the engine error (EngineReachable carries that one).
			s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonNotPermitted, denied.Message+
				"; revoking its tokens in the engine failed and is retried, and its Secret is left as it is until then")
			return res, rerr
		}
	}
	if s.engine != nil {
		s.engineReachable()
	}
	if err := s.loadSecret(ctx); err != nil {
		return ctrl.Result{}, err
	}
	if s.secret != nil && ownedBy(s.secret, s.obj.GetUID()) {
		sec := s.secret.DeepCopy()
		if stripToken(sec, &s.spec.Secret) {
			if err := s.patchSecret(ctx, s.secret, sec); err != nil {
				return s.kubeFailure(err)
			}
		}
	}
	s.status.Pending, s.status.Previous = nil, nil
	if !s.expired() {
		s.status.Current = nil
	}
	msg := fmt.Sprintf("%s. Revoked %s; Secret %q no longer holds a token. A token is minted again once the spec and the engine's policy agree",
		denied.Message, strings.Join(names, ", "), s.secretName)
	s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonNotPermitted, msg)
	s.log(ctx).Info("Revoked tokens the engine no longer permits", "tokenNames", names)
	s.event(corev1.EventTypeWarning, tokensv1.ReasonNotPermitted, actionRevoke, msg)
	return ctrl.Result{RequeueAfter: EngineRetryInterval}, nil
}

// currentStillPermitted asks the engine's allowedNamespaces and policy whether they still permit
// what the current token was minted with (status.current.permissions and expiresAfter), so that
// a spec edited to ask for more than the policy allows does not cost workloads their working
// token (Input.CurrentPermitted; Decide weighs it).
func (s *scope[T]) currentStillPermitted(ctx context.Context) bool {
	c := s.status.Current
	if c == nil || c.Permissions == "" {
		return false
	}
	perms, ok := ParseSummary(c.Permissions)
	if !ok {
		return false
	}
	req := requestFor(perms)
	req.ExpiresAfter, _ = tokensv1.Duration(c.ExpiresAfter).Parse()
	_, err := s.r.Resolver.Resolve(ctx, s.obj.GetNamespace(), s.spec.EngineRef, req)
	return err == nil
}
