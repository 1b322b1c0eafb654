package enginefactory

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// credential is one value read from a credentials Secret. where names the Secret and key for
// messages; value is never formatted.
type credential struct {
	value   string
	version string
	where   string
}

// SecretKey returns the Secret a reference points at: a TokenEngine's own namespace, or for a
// ClusterTokenEngine the reference's namespace, defaulting to the manager's.
func SecretKey(obj tokensv1.GenericEngine, refNamespace, name, managerNamespace string) types.NamespacedName {
	ns := refNamespace
	if obj.EngineKind() == tokensv1.TokenEngineKind {
		ns = obj.GetNamespace()
	} else if ns == "" {
		ns = managerNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: name}
}

func (f *Factory) readKey(ctx context.Context, obj tokensv1.GenericEngine, refNamespace, name, key string) (credential, error) {
	if key == "" {
		key = tokensv1.TokenSecretKey
	}
	nn := SecretKey(obj, refNamespace, name, f.ManagerNamespace)
	where := fmt.Sprintf("Secret %s key %q", nn, key)
	sec := &corev1.Secret{}
	if err := f.Reader.Get(ctx, nn, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return credential{}, engine.PermanentErrorf("%s does not exist: create it with the engine's admin token, e.g. kubectl -n %s create secret generic %s --from-file=%s=<file>",
				where, nn.Namespace, nn.Name, key).WithReason(tokensv1.ReasonCredentialsNotFound)
		}
		return credential{}, engine.Errorf("reading %s", where).WithCause(err)
	}
	v, ok := sec.Data[key]
	if !ok {
		return credential{}, engine.PermanentErrorf("%s: the Secret has no such key; add it, or point the reference's key at the one that holds the token", where).
			WithReason(tokensv1.ReasonCredentialsNotFound)
	}
	return credential{value: string(v), version: sec.ResourceVersion, where: where}, nil
}
