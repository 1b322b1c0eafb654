package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DatabaseName is a database name as InfluxDB 3 accepts it, or "*" for every database.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="self == '*' || self.matches('^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9_-]+)?$')",message=`must be a database name InfluxDB accepts: start with a letter or digit, then letters, digits, '_' or '-' (at most one '/' before a retention policy), at most 64 characters; or "*" for every database`
type DatabaseName string

// Action is what a permission allows.
// +kubebuilder:validation:Enum=read;write
type Action string

const (
	// ActionRead allows queries (databases) or reads (system endpoints).
	ActionRead Action = "read"
	// ActionWrite allows writes to databases.
	ActionWrite Action = "write"
)

// DatabasePermission grants actions on databases, as influxdb3's `db:<names|*>:<actions>`.
type DatabasePermission struct {
	// databases the permission applies to, or ["*"] for every database.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.size() > 0",message=`list at least one database, or ["*"] for every database`
	// +kubebuilder:validation:XValidation:rule="self.size() <= 1 || !self.exists(d, d == '*')",message=`"*" means every database and cannot be combined with database names: use ["*"] alone or list the databases`
	// +kubebuilder:validation:XValidation:rule="self.all(d, self.filter(e, e == d).size() == 1)",message="each database may appear only once; remove the duplicate"
	Databases []DatabaseName `json:"databases"`

	// actions allowed on those databases: read, write, or both.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:XValidation:rule="self.size() > 0",message="list at least one action: read, write, or both"
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.filter(b, b == a).size() == 1)",message="each action may appear only once; remove the duplicate"
	Actions []Action `json:"actions"`
}

// DatabaseTokenSpec is the desired state of a DatabaseToken.
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.renewBefore) || has(self.expiresAfter)",message="rotation.renewBefore needs spec.expiresAfter: a token that never expires is never renewed; set expiresAfter or remove renewBefore"
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.renewBefore) || !has(self.expiresAfter) || self.rotation.renewBefore.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum() < self.expiresAfter.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum()",message="rotation.renewBefore must be shorter than expiresAfter, e.g. expiresAfter: 720h with renewBefore: 168h"
type DatabaseTokenSpec struct {
	// permissions the token grants: databases × actions, as influxdb3's `db:<names|*>:read,write`.
	// Each entry is one permission; use several for different actions on different databases.
	// A change mints a successor token (InfluxDB tokens cannot change permissions).
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.size() > 0",message="list at least one permission, e.g. {databases: [telemetry], actions: [write]}"
	Permissions []DatabasePermission `json:"permissions"`

	TokenCommonSpec `json:",inline"`
}

// DatabaseTokenStatus is the observed state of a DatabaseToken.
type DatabaseTokenStatus struct {
	TokenStatus `json:",inline"`
}

// DatabaseToken is a database token minted by a token engine and written to a Secret.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dbtoken;dbtokens,categories=tokens;tokenops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Permissions",type=string,JSONPath=`.status.permissions`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.current.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DatabaseToken struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired token.
	// +required
	Spec DatabaseTokenSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status DatabaseTokenStatus `json:"status,omitempty"`
}

// DatabaseTokenList is a list of DatabaseTokens.
// +kubebuilder:object:root=true
type DatabaseTokenList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseToken `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &DatabaseToken{}, &DatabaseTokenList{})
}
