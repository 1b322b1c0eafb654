package engineref

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/enginefactory"
)

// DefaultEngineIndex is a field index on ClusterTokenEngines holding "true" for those carrying
// the default annotation, so that finding the default is not a scan of every engine.
const DefaultEngineIndex = "tokens.tokenops.dev/default-engine"

// IndexDefaultEngines registers DefaultEngineIndex; call it before the manager starts.
func IndexDefaultEngines(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &tokensv1.ClusterTokenEngine{}, DefaultEngineIndex, func(o client.Object) []string {
		if o.GetAnnotations()[tokensv1.DefaultEngineAnnotation] == "true" {
			return []string{"true"}
		}
		return nil
	})
}

// CachedResolver is the Resolver the manager uses. Engine resources and Namespaces come from the
// manager's cache (Namespaces as metadata only), and clients from an enginefactory.Cache that the
// engine reconcilers refresh, so a resolve makes no API or engine call in the steady state.
type CachedResolver struct {
	// Reader is the manager's cached client; DefaultEngineIndex must be registered with it.
	Reader client.Reader
	// Clients builds and keeps engine clients.
	Clients *enginefactory.Cache
}

var _ Resolver = (*CachedResolver)(nil)

// Resolve implements Resolver. Errors are Unusable engine.Errors (a condition for the token) or, for failures
// to read the cache or a Secret, plain errors the caller retries with backoff. allowedNamespaces
// and the policy are decided before readiness: a refusal is about the spec, not the engine's
// health, and must not wait for it.
func (r *CachedResolver) Resolve(ctx context.Context, namespace string, ref *tokensv1.EngineReference, req Request) (*Resolved, error) {
	obj, err := r.find(ctx, namespace, ref)
	if err != nil {
		return nil, err
	}
	labels := &namespaceLabels{reader: r.Reader, name: namespace}
	if err := r.permit(ctx, obj, labels); err != nil {
		return nil, err
	}
	if err := r.applyPolicy(ctx, obj, labels, req); err != nil {
		return nil, err
	}
	return r.ready(ctx, obj)
}

// ResolveForRevocation implements Resolver.
func (r *CachedResolver) ResolveForRevocation(ctx context.Context, namespace string, ref *tokensv1.EngineReference) (*Resolved, error) {
	obj, err := r.find(ctx, namespace, ref)
	if err != nil {
		return nil, err
	}
	return r.ready(ctx, obj)
}

// ready returns the engine's client once the engine's current spec was checked.
func (r *CachedResolver) ready(ctx context.Context, obj tokensv1.GenericEngine) (*Resolved, error) {
	if ok, msg := Readiness(obj); !ok {
		return nil, Errorf(tokensv1.ReasonEngineNotReady, "%s", msg)
	}
	built, err := r.Clients.Get(ctx, obj)
	if err != nil {
		if reason := engine.ReasonOf(err); reason != "" {
			return nil, Errorf(reason, "%s %s: %v", obj.EngineKind(), qualifiedName(obj), err)
		}
		return nil, err
	}
	return &Resolved{
		Description: built.Description, Engine: built.Engine, Kind: obj.EngineKind(), Name: obj.GetName(), UID: obj.GetUID(),
	}, nil
}

func (r *CachedResolver) find(ctx context.Context, namespace string, ref *tokensv1.EngineReference) (tokensv1.GenericEngine, error) {
	if ref == nil {
		return r.findDefault(ctx)
	}
	var (
		obj tokensv1.GenericEngine
		key types.NamespacedName
	)
	switch ref.Kind {
	case tokensv1.TokenEngineKind:
		// A TokenEngine serves only its own namespace, so the reference is always resolved there.
		obj, key = &tokensv1.TokenEngine{}, types.NamespacedName{Namespace: namespace, Name: ref.Name}
	case tokensv1.ClusterTokenEngineKind, "":
		obj, key = &tokensv1.ClusterTokenEngine{}, types.NamespacedName{Name: ref.Name}
	default:
		return nil, Errorf(tokensv1.ReasonEngineNotFound, "spec.engineRef.kind %q is neither ClusterTokenEngine nor TokenEngine", ref.Kind)
	}
	if err := r.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound(obj.EngineKind(), key)
		}
		return nil, err
	}
	return obj, nil
}

func notFound(kind tokensv1.EngineKind, key types.NamespacedName) *engine.Error {
	if kind == tokensv1.TokenEngineKind {
		return Errorf(tokensv1.ReasonEngineNotFound,
			"TokenEngine %s does not exist in namespace %s (a TokenEngine serves only tokens in its own namespace): create it, or fix spec.engineRef",
			key.Name, key.Namespace)
	}
	return Errorf(tokensv1.ReasonEngineNotFound,
		"ClusterTokenEngine %s does not exist: create it, or fix spec.engineRef (kubectl get clustertokenengines lists the engines)", key.Name)
}

func (r *CachedResolver) findDefault(ctx context.Context) (tokensv1.GenericEngine, error) {
	list := &tokensv1.ClusterTokenEngineList{}
	if err := r.Reader.List(ctx, list, client.MatchingFields{DefaultEngineIndex: "true"}); err != nil {
		return nil, err
	}
	return PickDefault(list.Items)
}

// PickDefault returns the one default engine among items (already filtered by the annotation),
// or says how to fix there being none or several.
func PickDefault(items []tokensv1.ClusterTokenEngine) (*tokensv1.ClusterTokenEngine, error) {
	switch len(items) {
	case 0:
		return nil, Errorf(tokensv1.ReasonEngineNotFound,
			"spec.engineRef is omitted and no ClusterTokenEngine is the default: set spec.engineRef, or mark one engine with kubectl annotate clustertokenengine NAME %s=true",
			tokensv1.DefaultEngineAnnotation)
	case 1:
		return &items[0], nil
	}
	names := make([]string, len(items))
	for i := range items {
		names[i] = items[i].Name
	}
	sort.Strings(names)
	return nil, Errorf(tokensv1.ReasonMultipleDefaultEngines,
		"spec.engineRef is omitted and %d ClusterTokenEngines carry %s=true (%s): keep the annotation on exactly one, or set spec.engineRef",
		len(names), tokensv1.DefaultEngineAnnotation, strings.Join(names, ", "))
}

// permit applies allowedNamespaces. A TokenEngine is only ever looked up in the token's own
// namespace, so it needs no rule. A ClusterTokenEngine without allowedNamespaces (or with an
// empty one) serves no namespace: access to a cluster-wide engine is opted in to, never implied.
func (r *CachedResolver) permit(ctx context.Context, obj tokensv1.GenericEngine, ns *namespaceLabels) error {
	namespace := ns.name
	if obj.EngineKind() == tokensv1.TokenEngineKind {
		return nil
	}
	allowed := obj.GetAllowedNamespaces()
	if allowed == nil || (allowed.Selector == nil && len(allowed.MatchNames) == 0) {
		return ServesNoNamespace(obj, namespace)
	}
	if allowed.Selector == nil {
		if PermitsByName(allowed.MatchNames, namespace) {
			return nil
		}
		return notPermitted(obj, namespace, describeRule(allowed))
	}
	lbls, err := ns.get(ctx)
	if err != nil {
		return fmt.Errorf("reading namespace %s for the allowedNamespaces selector of %s %s: %w", namespace, obj.EngineKind(), obj.GetName(), err)
	}
	ok, err := PermitsByLabels(allowed.Selector, lbls)
	if err != nil {
		return notPermitted(obj, namespace, fmt.Sprintf("its allowedNamespaces.selector is invalid: %v", err))
	}
	if !ok {
		return notPermitted(obj, namespace, describeRule(allowed))
	}
	return nil
}

// applyPolicy evaluates the engine's policy for req; the message is prefixed with the engine.
func (r *CachedResolver) applyPolicy(ctx context.Context, obj tokensv1.GenericEngine, ns *namespaceLabels, req Request) error {
	policy := obj.GetPolicy()
	if policy == nil {
		return nil
	}
	var lbls map[string]string
	if policyUsesSelector(policy) {
		var err error
		if lbls, err = ns.get(ctx); err != nil {
			return fmt.Errorf("reading namespace %s for the policy of %s %s: %w", ns.name, obj.EngineKind(), obj.GetName(), err)
		}
	}
	err := Evaluate(policy, ns.name, lbls, req)
	var denied *engine.Error
	if errors.As(err, &denied) {
		return Errorf(denied.Reason, "%s %s: %s", obj.EngineKind(), qualifiedName(obj), denied.Message)
	}
	return err
}

// policyUsesSelector reports whether a rule needs the namespace's labels.
func policyUsesSelector(p *tokensv1.EnginePolicy) bool {
	for _, rule := range p.Rules {
		if rule.Namespaces != nil && rule.Namespaces.Selector != nil {
			return true
		}
	}
	return false
}

// namespaceLabels reads a namespace's labels from the cache at most once per resolve, and only
// when a selector needs them.
type namespaceLabels struct {
	reader client.Reader
	name   string
	labels map[string]string
	read   bool
}

func (n *namespaceLabels) get(ctx context.Context) (map[string]string, error) {
	if n.read {
		return n.labels, nil
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(namespaceGVK)
	if err := n.reader.Get(ctx, types.NamespacedName{Name: n.name}, ns); err != nil {
		return nil, err
	}
	n.labels, n.read = ns.Labels, true
	return n.labels, nil
}

// namespaceGVK reads Namespaces as metadata only: the labels are all the selector needs.
var namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
