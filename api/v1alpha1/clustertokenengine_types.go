package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterTokenEngineSpec is the desired state of a ClusterTokenEngine.
// +kubebuilder:validation:XValidation:rule="[has(self.influxdb3), has(self.influxdb2), has(self.cloudDedicated), has(self.influxdb1)].filter(x, x).size() == 1",message="set exactly one engine: influxdb3, influxdb2, cloudDedicated or influxdb1"
type ClusterTokenEngineSpec struct {
	EngineSpec `json:",inline"`

	// allowedNamespaces says which namespaces may use this engine: names with `*` globs, or a
	// label selector. Omitted: no namespace (the engine serves nothing until a cluster admin names
	// the namespaces; matchNames ["*"] serves every namespace). See docs/security.md.
	// +optional
	AllowedNamespaces *AllowedNamespaces `json:"allowedNamespaces,omitempty"`

	// policy limits, per namespace, the databases, system resources and expiry tokens may ask
	// for; see docs/policy.md. Omitted: no limits beyond allowedNamespaces.
	// +optional
	Policy *EnginePolicy `json:"policy,omitempty"`

	// orphanSweep is what the operator does, about every 10 minutes while the engine is Ready,
	// with engine tokens in the namespaces this engine serves that carry the operator's name
	// prefix but that no DatabaseToken or SystemToken accounts for: Report (a metric and a
	// Warning event), Revoke (also revoke them after a grace period) or Off. Keep Report or Off
	// when another cluster's operator mints into the same engine. See docs/rotation.md.
	// +optional
	// +default="Report"
	OrphanSweep OrphanSweep `json:"orphanSweep,omitempty"`
}

// ClusterTokenEngine is a cluster-scoped token engine usable from the namespaces it allows.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cte,categories=tokenops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.type`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterTokenEngine struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec configures the engine.
	// +required
	Spec ClusterTokenEngineSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status EngineStatus `json:"status,omitempty"`
}

// ClusterTokenEngineList is a list of ClusterTokenEngines.
// +kubebuilder:object:root=true
type ClusterTokenEngineList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTokenEngine `json:"items"`
}

// TokenEngineSpec is the desired state of a TokenEngine.
// +kubebuilder:validation:XValidation:rule="[has(self.influxdb3), has(self.influxdb2), has(self.cloudDedicated), has(self.influxdb1)].filter(x, x).size() == 1",message="set exactly one engine: influxdb3, influxdb2, cloudDedicated or influxdb1"
// +kubebuilder:validation:XValidation:rule="(!has(self.influxdb3) || !has(self.influxdb3.adminTokenSecretRef.__namespace__)) && (!has(self.influxdb2) || !has(self.influxdb2.tokenSecretRef.__namespace__)) && (!has(self.cloudDedicated) || !has(self.cloudDedicated.managementTokenSecretRef.__namespace__)) && (!has(self.influxdb1) || !has(self.influxdb1.credentialsSecretRef.__namespace__))",message="a TokenEngine reads its credentials Secret from its own namespace: remove the namespace field from the secret reference (or use a ClusterTokenEngine)"
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || self.policy.rules.all(r, !has(r.namespaces))",message="a TokenEngine serves only its own namespace: remove namespaces from its policy rules"
type TokenEngineSpec struct {
	EngineSpec `json:",inline"`

	// policy limits the databases, system resources and expiry tokens of this namespace may ask
	// for; rules must omit namespaces. See docs/policy.md. Omitted: no limits.
	// +optional
	Policy *EnginePolicy `json:"policy,omitempty"`

	// orphanSweep is what the operator does, about every 10 minutes while the engine is Ready,
	// with engine tokens of this namespace that carry the operator's name prefix but that no
	// DatabaseToken or SystemToken accounts for: Report (a metric and a Warning event), Revoke
	// (also revoke them after a grace period) or Off. See docs/rotation.md.
	// +optional
	// +default="Report"
	OrphanSweep OrphanSweep `json:"orphanSweep,omitempty"`
}

// TokenEngine is a namespaced token engine usable only by tokens in its own namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=te,categories=tokenops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.status.type`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TokenEngine struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec configures the engine.
	// +required
	Spec TokenEngineSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status EngineStatus `json:"status,omitempty"`
}

// TokenEngineList is a list of TokenEngines.
// +kubebuilder:object:root=true
type TokenEngineList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TokenEngine `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &ClusterTokenEngine{}, &ClusterTokenEngineList{}, &TokenEngine{}, &TokenEngineList{})
}
