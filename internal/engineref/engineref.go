// Package engineref is the seam between the token controllers and the engine resources: it turns
// a token's namespace and spec.engineRef into a ready engine client, or says why it cannot.
package engineref

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
)

// Resolved is an engine a token may use: the engine resource, its Description and its client.
type Resolved struct {
	enginefactory.Description
	// Engine is the adapter client, built from the engine resource and its credentials Secret.
	Engine engine.Engine
	// Kind, Name and UID identify the engine resource (for events, metrics, status messages and
	// the engine a token records; UID is empty for engineref.Static).
	Kind tokensv1.EngineKind
	Name string
	UID  types.UID
}

// Identity is what a token minted in this engine records, so it is revoked here later
// (docs/design.md §4); nil for an engine without a kind (engineref.Static in tests).
func (r *Resolved) Identity() *tokensv1.EngineIdentity {
	if r.Kind == "" || r.Name == "" {
		return nil
	}
	return &tokensv1.EngineIdentity{Kind: r.Kind, Name: r.Name, UID: r.UID}
}

// Is reports whether id names this engine. Kind and name decide: an engine resource re-created
// under the same name is the same engine (its spec says where it is now).
func (r *Resolved) Is(id *tokensv1.EngineIdentity) bool {
	return id == nil || (id.Kind == r.Kind && id.Name == r.Name) || r.Identity() == nil
}

// Resolver finds the engine for a token. Implementations read engine resources from the cache and
// credentials Secrets uncached, and reuse built clients while neither changes.
type Resolver interface {
	// Resolve finds the engine a token in namespace wants to mint with: the engine must allow the
	// namespace (allowedNamespaces) and its policy must permit req.
	Resolve(ctx context.Context, namespace string, ref *tokensv1.EngineReference, req Request) (*Resolved, error)
	// ResolveForRevocation finds the engine only to revoke a token's engine tokens. Neither
	// allowedNamespaces nor the policy apply: revoking grants nothing, and a token that is no
	// longer permitted must still be revocable (that is how it is taken away).
	ResolveForRevocation(ctx context.Context, namespace string, ref *tokensv1.EngineReference) (*Resolved, error)
}

// Errorf returns the error a resolution fails with: an engine.Error of kind Unusable whose
// Reason is a condition reason from the API package (ReasonEngineNotFound, ReasonEngineNotReady,
// ReasonNotPermitted, ReasonCredentialsNotFound, ...).
func Errorf(reason, format string, args ...any) *engine.Error {
	return engine.UnusableErrorf(reason, format, args...)
}

// Static resolves every reference to one engine. Tests use it with the fake engine.
type Static struct{ Resolved Resolved }

// Resolve implements Resolver; Static has no policy.
func (s *Static) Resolve(context.Context, string, *tokensv1.EngineReference, Request) (*Resolved, error) {
	r := s.Resolved
	return &r, nil
}

// ResolveForRevocation implements Resolver.
func (s *Static) ResolveForRevocation(context.Context, string, *tokensv1.EngineReference) (*Resolved, error) {
	r := s.Resolved
	return &r, nil
}
