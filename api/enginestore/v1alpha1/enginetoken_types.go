package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EngineTokenSpec is one token of the in-cluster token engine: its metadata and the SHA-512
// digest of the token string. The plaintext is never stored (docs/design.md §5).
type EngineTokenSpec struct {
	// id is the token's InfluxDB 3 token_id.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="id is immutable"
	ID int64 `json:"id"`

	// name is the token name, unique per engine; the object name is derived from it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="name is immutable: the object name is derived from it"
	Name string `json:"name"`

	// sha512 is the hex SHA-512 digest of the whole token string.
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{128}$`
	SHA512 string `json:"sha512"`

	// admin marks an admin token: the operator token _admin or a named admin token.
	// +optional
	Admin bool `json:"admin,omitempty"`

	// permissions are the grants of a resource token.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Permissions []EngineTokenPermission `json:"permissions,omitempty"`

	// createdAt is when the token was minted.
	// +required
	CreatedAt metav1.MicroTime `json:"createdAt"`

	// expiry is when the token stops working; absent means never.
	// +optional
	Expiry *metav1.MicroTime `json:"expiry,omitempty"`

	// createdByTokenID is the id of the admin token that minted it.
	// +optional
	CreatedByTokenID *int64 `json:"createdByTokenID,omitempty"`

	// updatedAt is when the digest was last replaced (the operator token only).
	// +optional
	UpdatedAt *metav1.MicroTime `json:"updatedAt,omitempty"`

	// updatedByTokenID is the id of the token that last replaced the digest.
	// +optional
	UpdatedByTokenID *int64 `json:"updatedByTokenID,omitempty"`
}

// EngineTokenPermission is one grant: actions on named resources of one type.
type EngineTokenPermission struct {
	// resourceType is db or system.
	// +required
	ResourceType string `json:"resourceType"`

	// resourceNames are database or system resource names, or "*".
	// +required
	// +listType=atomic
	ResourceNames []string `json:"resourceNames"`

	// actions are read and/or write.
	// +required
	// +listType=atomic
	Actions []string `json:"actions"`
}

// EngineToken is one token of the in-cluster token engine (--store=kubernetes). The engine owns
// these objects: editing one by hand changes who is authorized.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,categories=tokenops
// +kubebuilder:printcolumn:name="Token",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.spec.id`
// +kubebuilder:printcolumn:name="Admin",type=boolean,JSONPath=`.spec.admin`
// +kubebuilder:printcolumn:name="Expiry",type=string,JSONPath=`.spec.expiry`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EngineToken struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the stored token.
	// +required
	Spec EngineTokenSpec `json:"spec"`
}

// EngineTokenList is a list of EngineToken.
// +kubebuilder:object:root=true
type EngineTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EngineToken `json:"items"`
}
