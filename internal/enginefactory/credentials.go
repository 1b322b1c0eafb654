package enginefactory

import (
	"cmp"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// SecretVersion is the resourceVersion of obj's credentials Secret, read uncached as metadata
// only: what Cache.Refresh compares before building anything.
func (f *Factory) SecretVersion(ctx context.Context, obj tokensv1.GenericEngine) (string, error) {
	d := Describe(obj, f.ManagerNamespace)
	if d.Secret.Name == "" {
		return "", fmt.Errorf("%s %s names no credentials Secret", obj.EngineKind(), obj.GetName())
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := f.Reader.Get(ctx, d.Secret, m); err != nil {
		return "", err
	}
	return m.ResourceVersion, nil
}

func (f *Factory) readKey(ctx context.Context, obj tokensv1.GenericEngine, refNamespace, name, key string) (credential, error) {
	creds, err := f.readKeys(ctx, obj, refNamespace, name, key)
	if err != nil {
		return credential{}, err
	}
	return creds[0], nil
}

// readKeys reads several keys of one Secret with a single uncached read (InfluxDB 1.x keeps the
// username and password side by side); an empty key is the token key.
func (f *Factory) readKeys(ctx context.Context, obj tokensv1.GenericEngine, refNamespace, name string, keys ...string) ([]credential, error) {
	nn := SecretKey(obj, refNamespace, name, f.ManagerNamespace)
	sec := &corev1.Secret{}
	if err := f.Reader.Get(ctx, nn, sec); err != nil {
		first := cmp.Or(keys[0], tokensv1.TokenSecretKey)
		where := fmt.Sprintf("Secret %s key %q", nn, first)
		if apierrors.IsNotFound(err) {
			return nil, engine.PermanentErrorf("%s does not exist: create it with the engine's admin token, e.g. kubectl -n %s create secret generic %s --from-file=%s=<file>",
				where, nn.Namespace, nn.Name, first).WithReason(tokensv1.ReasonCredentialsNotFound)
		}
		return nil, engine.Errorf("reading %s", where).WithCause(err)
	}
	if obj.EngineKind() == tokensv1.TokenEngineKind && sec.Labels[tokensv1.EngineCredentialsLabel] != "true" {
		return nil, engine.PermanentErrorf("Secret %s is not labelled %s: \"true\": a TokenEngine reads only Secrets labelled as engine credentials "+
			"(docs/security.md); label it: kubectl -n %s label secret %s %s=true",
			nn, tokensv1.EngineCredentialsLabel, nn.Namespace, nn.Name, tokensv1.EngineCredentialsLabel).WithReason(tokensv1.ReasonCredentialsNotFound)
	}
	creds := make([]credential, len(keys))
	for i, key := range keys {
		key = cmp.Or(key, tokensv1.TokenSecretKey)
		where := fmt.Sprintf("Secret %s key %q", nn, key)
		v, ok := sec.Data[key]
		if !ok {
			return nil, engine.PermanentErrorf("%s: the Secret has no such key; add it, or point the reference's key at the one that holds the token", where).
				WithReason(tokensv1.ReasonCredentialsNotFound)
		}
		creds[i] = credential{value: string(v), version: sec.ResourceVersion, where: where}
	}
	return creds, nil
}
