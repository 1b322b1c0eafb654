package engineref

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// PermitsByName decides the matchNames rule: true when a pattern (`*` globs, path.Match syntax)
// matches namespace. A malformed pattern matches nothing.
func PermitsByName(patterns []string, namespace string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, namespace); err == nil && ok {
			return true
		}
	}
	return false
}

// PermitsByLabels decides the selector rule against the namespace's labels. A selector that
// cannot be parsed permits nothing (admission should have refused it) and says why.
func PermitsByLabels(sel *metav1.LabelSelector, nsLabels map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(nsLabels)), nil
}

// describeRule renders an allowedNamespaces rule for a status message.
func describeRule(a *tokensv1.AllowedNamespaces) string {
	if a.Selector != nil {
		return "allowedNamespaces.selector " + metav1.FormatLabelSelector(a.Selector)
	}
	return fmt.Sprintf("allowedNamespaces.matchNames [%s]", strings.Join(a.MatchNames, ", "))
}

// notPermitted is the error for a namespace an engine does not serve.
func notPermitted(obj tokensv1.GenericEngine, namespace, rule string) *engine.Error {
	return Errorf(tokensv1.ReasonNotPermitted,
		"%s %s does not allow namespace %s (%s): add the namespace to the engine's allowedNamespaces, or set spec.engineRef to an engine this namespace may use",
		obj.EngineKind(), obj.GetName(), namespace, rule)
}

// ServesNoNamespace is the error for a ClusterTokenEngine whose allowedNamespaces is omitted or
// empty: such an engine serves no namespace (secure by default; see docs/security.md).
func ServesNoNamespace(obj tokensv1.GenericEngine, namespace string) *engine.Error {
	return Errorf(tokensv1.ReasonNotPermitted,
		"%s %s serves no namespace: its spec.allowedNamespaces is not set, so namespace %s may not use it; "+
			"a cluster admin sets allowedNamespaces (matchNames [%s], a label selector, or matchNames [\"*\"] for every namespace), "+
			"or set spec.engineRef to an engine this namespace may use",
		obj.EngineKind(), obj.GetName(), namespace, namespace)
}

// Readiness says whether the engine's status shows a successful check of its current spec, and
// if not, a message saying why, for the token's condition.
func Readiness(obj tokensv1.GenericEngine) (bool, string) {
	st := obj.GetEngineStatus()
	c := meta.FindStatusCondition(st.Conditions, tokensv1.ConditionReady)
	id := fmt.Sprintf("%s %s", obj.EngineKind(), qualifiedName(obj))
	switch {
	case c == nil:
		return false, id + " has not been checked yet; the operator checks it shortly"
	case c.ObservedGeneration != obj.GetGeneration() || st.ObservedGeneration != obj.GetGeneration():
		return false, id + " changed and has not been re-checked yet; the operator checks it shortly"
	case c.Status != metav1.ConditionTrue:
		return false, fmt.Sprintf("%s is not Ready (%s: %s); see kubectl describe %s", id, c.Reason, c.Message, kubectlName(obj))
	}
	return true, ""
}

// qualifiedName is ns/name for a TokenEngine and name for a ClusterTokenEngine.
func qualifiedName(obj tokensv1.GenericEngine) string {
	return toolscache.MetaObjectToName(obj).String()
}

func kubectlName(obj tokensv1.GenericEngine) string {
	if obj.GetNamespace() == "" {
		return "clustertokenengine " + obj.GetName()
	}
	return fmt.Sprintf("-n %s tokenengine %s", obj.GetNamespace(), obj.GetName())
}
