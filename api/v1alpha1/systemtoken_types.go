package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SystemResource is a system endpoint a SystemToken may read.
// +kubebuilder:validation:Enum=health;metrics;ping;ready;"*"
type SystemResource string

// SystemTokenSpec is the desired state of a SystemToken.
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.renewBefore) || has(self.expiresAfter)",message="rotation.renewBefore needs spec.expiresAfter: a token that never expires is never renewed; set expiresAfter or remove renewBefore"
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.renewBefore) || !has(self.expiresAfter) || self.rotation.renewBefore.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum() < self.expiresAfter.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum()",message="rotation.renewBefore must be shorter than expiresAfter, e.g. expiresAfter: 720h with renewBefore: 168h"
type SystemTokenSpec struct {
	// resources the token may read: health, metrics, ping, ready, or ["*"] for all of them,
	// as influxdb3's `system:<resources>:read`.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:XValidation:rule="self.size() > 0",message="list at least one system resource: health, metrics, ping, ready, or \"*\""
	// +kubebuilder:validation:XValidation:rule="self.size() <= 1 || !self.exists(r, r == '*')",message=`"*" means every system resource and cannot be combined with names: use ["*"] alone or list the resources`
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.filter(s, s == r).size() == 1)",message="each resource may appear only once; remove the duplicate"
	Resources []SystemResource `json:"resources"`

	// actions are always read: system tokens are read-only. Optional; defaults to [read].
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:XValidation:rule="self.all(a, a == 'read')",message=`system tokens are read-only: actions may only be ["read"]; use a DatabaseToken to write`
	// +default=["read"]
	Actions []Action `json:"actions,omitempty"`

	TokenCommonSpec `json:",inline"`
}

// SystemTokenStatus is the observed state of a SystemToken.
type SystemTokenStatus struct {
	TokenStatus `json:",inline"`
}

// SystemToken is a read-only token for an engine's system endpoints (health, metrics, ping, ready),
// minted by a token engine and written to a Secret.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=systoken;systokens,categories=tokens;tokenops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Resources",type=string,JSONPath=`.status.permissions`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.current.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SystemToken struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired token.
	// +required
	Spec SystemTokenSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status SystemTokenStatus `json:"status,omitempty"`
}

// SystemTokenList is a list of SystemTokens.
// +kubebuilder:object:root=true
type SystemTokenList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SystemToken `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &SystemToken{}, &SystemTokenList{})
}
