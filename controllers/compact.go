package controllers

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// The cache transform's compaction (docs/design.md §8, "Caches"). Decoding gives every cached
// object its own copy of every string, so 10,000 tokens held "Ready", "Minted", the engine's name
// and "db:telemetry:read,write" 10,000 times each, and conditions in slices grown for more than
// they hold: a quarter of what a cached token cost. compactToken and compactSecret make the
// strings many objects share point at one copy (unique.Make) and size the slices to fit; they
// change no value, so nothing that reads the cache can tell.

// in is s's canonical copy.
func in[S ~string](s S) S {
	if s == "" {
		return s
	}
	return S(unique.Make(string(s)).Value())
}

// compactMeta interns what objects of a namespace and kind share: type, namespace, finalizers,
// owner kinds, label and annotation keys (not their values, mostly each object's own).
func compactMeta(tm *metav1.TypeMeta, om *metav1.ObjectMeta) {
	tm.APIVersion, tm.Kind = in(tm.APIVersion), in(tm.Kind)
	om.Namespace = in(om.Namespace)
	for i := range om.Finalizers {
		om.Finalizers[i] = in(om.Finalizers[i])
	}
	for i := range om.OwnerReferences {
		r := &om.OwnerReferences[i]
		r.APIVersion, r.Kind = in(r.APIVersion), in(r.Kind)
	}
	om.Labels = internKeys(om.Labels)
	om.Annotations = internKeys(om.Annotations)
}

// internKeys is m with interned keys, nil when empty.
func internKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[in(k)] = v
	}
	return out
}

// compactToken compacts a DatabaseToken or SystemToken; other objects are left alone.
func compactToken(obj any) {
	switch t := obj.(type) {
	case *tokensv1.DatabaseToken:
		compactMeta(&t.TypeMeta, &t.ObjectMeta)
		for i := range t.Spec.Permissions {
			p := &t.Spec.Permissions[i]
			for j := range p.Databases {
				p.Databases[j] = in(p.Databases[j])
			}
			for j := range p.Actions {
				p.Actions[j] = in(p.Actions[j])
			}
		}
		compactCommon(&t.Spec.TokenCommonSpec, &t.Status.TokenStatus)
	case *tokensv1.SystemToken:
		compactMeta(&t.TypeMeta, &t.ObjectMeta)
		for i := range t.Spec.Resources {
			t.Spec.Resources[i] = in(t.Spec.Resources[i])
		}
		compactCommon(&t.Spec.TokenCommonSpec, &t.Status.TokenStatus)
	}
}

func compactCommon(spec *tokensv1.TokenCommonSpec, st *tokensv1.TokenStatus) {
	if r := spec.EngineRef; r != nil {
		r.Kind, r.Name = in(r.Kind), in(r.Name)
	}
	if d := spec.ExpiresAfter; d != nil {
		*d = in(*d)
	}
	spec.DeletionPolicy = in(spec.DeletionPolicy)
	st.Permissions = in(st.Permissions)
	if len(st.Conditions) > 0 {
		st.Conditions = append(make([]metav1.Condition, 0, len(st.Conditions)), st.Conditions...)
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type, c.Status, c.Reason = in(c.Type), in(c.Status), in(c.Reason)
		if c.Type != tokensv1.ConditionReady { // Ready's message names the token; the others are shared
			c.Message = in(c.Message)
		}
	}
	compactRecord(st.Current)
	if len(st.Previous) > 0 {
		st.Previous = append(make([]tokensv1.TokenRecord, 0, len(st.Previous)), st.Previous...)
	}
	for i := range st.Previous {
		compactRecord(&st.Previous[i])
	}
	if p := st.Pending; p != nil {
		p.Permissions, p.ExpiresAfter = in(p.Permissions), in(p.ExpiresAfter)
		compactEngine(p.Engine)
	}
}

func compactRecord(r *tokensv1.TokenRecord) {
	if r == nil {
		return
	}
	r.Permissions, r.ExpiresAfter = in(r.Permissions), in(r.ExpiresAfter)
	compactEngine(r.Engine)
}

func compactEngine(e *tokensv1.EngineIdentity) {
	if e != nil {
		e.Kind, e.Name, e.UID = in(e.Kind), in(e.Name), in(e.UID)
	}
}

// compactSecret compacts one of our Secrets: it keeps no labels (the cache's selector already
// chose them) and only the annotations the lifecycle reads (which token, which revision), since
// the lifecycle writes Secrets as merge patches of what it changes
// (internal/lifecycle/mint.go:patchSecret), never whole from the cached copy; the rest as
// compactMeta, and the type and data keys.
func compactSecret(s *corev1.Secret) {
	s.Labels = nil
	s.Annotations = keepOnly(s.Annotations, tokensv1.TokenNameAnnotation, tokensv1.RevisionAnnotation)
	compactMeta(&s.TypeMeta, &s.ObjectMeta)
	s.Type = in(s.Type)
	if len(s.Data) > 0 {
		data := make(map[string][]byte, len(s.Data))
		for k, v := range s.Data {
			data[in(k)] = v
		}
		s.Data = data
	}
}

// keepOnly is m with only keys, nil when none is there.
func keepOnly(m map[string]string, keys ...string) map[string]string {
	var out map[string]string
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if out == nil {
				out = make(map[string]string, len(keys))
			}
			out[k] = v
		}
	}
	return out
}
