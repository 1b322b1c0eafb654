package lifecycle

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// TemplateData is what secret.extraKeys templates can use.
type TemplateData struct {
	// EngineURL is the engine's address for workloads.
	EngineURL string
	// Databases are the databases the token names ("*" included), in spec order.
	Databases []string
	// Database is the first of them, or "" for a SystemToken.
	Database string
	// TokenName is the engine-side name of the token written beside the template.
	TokenName string
	// Namespace and Name are the token resource's.
	Namespace string
	Name      string
}

// templateFuncs are the few helpers extraKeys templates get: joining the database list is the
// one thing every connection string needs.
var templateFuncs = template.FuncMap{"join": strings.Join}

// RenderExtraKeys renders secret.extraKeys. Missing fields are errors, so a typo surfaces as a
// TemplateError condition instead of an empty value in a workload's configuration. The error
// names the key and never holds a token: templates cannot see one.
func RenderExtraKeys(templates map[string]string, data TemplateData) (map[string][]byte, error) {
	out := make(map[string][]byte, len(templates))
	for _, key := range slices.Sorted(maps.Keys(templates)) {
		t, err := template.New(key).Funcs(templateFuncs).Option("missingkey=error").Parse(templates[key])
		if err != nil {
			return nil, fmt.Errorf("secret.extraKeys[%s]: %w", key, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("secret.extraKeys[%s]: %w", key, err)
		}
		out[key] = b.Bytes()
	}
	return out, nil
}

// ownedBy reports whether obj has a controller ownerReference to the resource with uid.
func ownedBy(obj metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == uid
}

// viewSecret summarises the Secret (nil: none) for Decide.
func viewSecret(s *corev1.Secret, uid types.UID) SecretView {
	if s == nil {
		return SecretView{}
	}
	v := SecretView{Exists: true, Ours: ownedBy(s, uid)}
	if !v.Ours {
		return v
	}
	v.Revision, _ = strconv.ParseInt(s.Annotations[tokensv1.RevisionAnnotation], 10, 64)
	v.TokenName = s.Annotations[tokensv1.TokenNameAnnotation]
	if tok := s.Data[tokensv1.TokenSecretKey]; len(tok) > 0 {
		v.HasToken = true
		v.Fingerprint = Fingerprint(uid, tok)
	}
	return v
}

// secretContent is what step 4 writes.
type secretContent struct {
	tokenName string
	revision  int64
	minted    engine.Minted
	extra     map[string][]byte
}

// applySecret makes s hold the content: our labels and annotations over the user's, the token,
// the engine's extra credential keys and the rendered templates, and nothing else (keys left
// from an earlier revision go).
func applySecret(s *corev1.Secret, spec *tokensv1.SecretTemplate, ownerUID types.UID, c secretContent) {
	s.Labels = mergeInto(s.Labels, spec.Labels)
	s.Labels[tokensv1.ManagedByLabel] = tokensv1.ManagedByValue
	s.Labels[tokensv1.OwnerUIDLabel] = string(ownerUID)
	s.Annotations = mergeInto(s.Annotations, spec.Annotations)
	s.Annotations[tokensv1.TokenNameAnnotation] = c.tokenName
	s.Annotations[tokensv1.RevisionAnnotation] = strconv.FormatInt(c.revision, 10)
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	data := make(map[string][]byte, 1+len(c.minted.SecretData)+len(c.extra))
	maps.Copy(data, c.extra)
	for k, v := range c.minted.SecretData {
		data[k] = []byte(v.Reveal())
	}
	data[tokensv1.TokenSecretKey] = []byte(c.minted.Token.Reveal())
	s.Data = data
	s.StringData = nil
}

// stripToken removes the credential keys at expiry and keeps the Secret and its templated keys
// (workloads keep mounting it; they just hold no credential any more).
func stripToken(s *corev1.Secret, spec *tokensv1.SecretTemplate) bool {
	changed := false
	for k := range s.Data {
		if _, templated := spec.ExtraKeys[k]; !templated {
			delete(s.Data, k)
			changed = true
		}
	}
	return changed
}

func mergeInto(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(src)+2)
	}
	maps.Copy(dst, src)
	return dst
}
