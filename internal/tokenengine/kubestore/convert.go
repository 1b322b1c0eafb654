package kubestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storev1 "github.com/tokenops/token-operator/api/enginestore/v1alpha1"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

// ObjectName is the EngineToken name of a token: "tok-" and the hex SHA-256 of the token name.
// Token names may hold any printable character and 512 bytes (docs/token-engine.md), object
// names may not; deriving one from the other makes the API server refuse a duplicate name.
func ObjectName(tokenName string) string {
	sum := sha256.Sum256([]byte(tokenName))
	return "tok-" + hex.EncodeToString(sum[:])
}

// toObject is the EngineToken for r in namespace ns.
func toObject(r *tokenengine.Record, ns string) *storev1.EngineToken {
	o := &storev1.EngineToken{
		ObjectMeta: metav1.ObjectMeta{Name: ObjectName(r.Name), Namespace: ns, Labels: map[string]string{LabelManagedBy: ManagedBy}},
		Spec: storev1.EngineTokenSpec{
			ID: int64(r.ID), Name: r.Name, SHA512: r.Digest.Hex(), Admin: r.Admin,
			CreatedAt: metav1.NewMicroTime(r.CreatedAt.UTC()),
			Expiry:    microTime(r.Expiry), UpdatedAt: microTime(r.UpdatedAt),
			CreatedByTokenID: int64Ptr(r.CreatedByTokenID), UpdatedByTokenID: int64Ptr(r.UpdatedByTokenID),
		},
	}
	for _, p := range r.Permissions {
		o.Spec.Permissions = append(o.Spec.Permissions, storev1.EngineTokenPermission{ResourceType: p.ResourceType, ResourceNames: p.Names, Actions: p.Actions})
	}
	return o
}

// toRecord reads an EngineToken; an object whose name does not match its token name, or whose
// digest is malformed, is refused (nobody may authorize with it).
func toRecord(o *storev1.EngineToken) (*tokenengine.Record, error) {
	if o.Name != ObjectName(o.Spec.Name) {
		return nil, fmt.Errorf("EngineToken %s/%s is not named after its token name", o.Namespace, o.Name)
	}
	raw, err := hex.DecodeString(o.Spec.SHA512)
	r := &tokenengine.Record{ID: uint64(o.Spec.ID), Name: o.Spec.Name, Admin: o.Spec.Admin,
		CreatedAt: o.Spec.CreatedAt.UTC(), Expiry: timePtr(o.Spec.Expiry), UpdatedAt: timePtr(o.Spec.UpdatedAt),
		CreatedByTokenID: uint64Ptr(o.Spec.CreatedByTokenID), UpdatedByTokenID: uint64Ptr(o.Spec.UpdatedByTokenID)}
	if err != nil || len(raw) != len(r.Digest) || o.Spec.ID < 0 {
		return nil, fmt.Errorf("EngineToken %s/%s has a malformed digest or id", o.Namespace, o.Name)
	}
	copy(r.Digest[:], raw)
	for _, p := range o.Spec.Permissions {
		r.Permissions = append(r.Permissions, tokenengine.Permission{ResourceType: p.ResourceType, Names: p.ResourceNames, Actions: p.Actions})
	}
	return r, nil
}

func microTime(t *time.Time) *metav1.MicroTime {
	if t == nil {
		return nil
	}
	m := metav1.NewMicroTime(t.UTC())
	return &m
}

func timePtr(m *metav1.MicroTime) *time.Time {
	if m == nil {
		return nil
	}
	t := m.UTC()
	return &t
}

func int64Ptr(u *uint64) *int64 {
	if u == nil {
		return nil
	}
	v := int64(*u)
	return &v
}

func uint64Ptr(i *int64) *uint64 {
	if i == nil {
		return nil
	}
	v := uint64(*i)
	return &v
}
