package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EngineURL is an http or https URL of an engine's API.
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+') && isURL(self)",message="must be an http:// or https:// URL with a host, e.g. http://token-engine.token-operator.svc:8181"
type EngineURL string

// SecretKeySelector points at one key of a Secret.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Secret. ClusterTokenEngine: defaults to the namespace the operator runs in.
	// TokenEngine: must be omitted; its own namespace is used.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// key within the Secret.
	// +optional
	// +default="token"
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// TLSConfig configures how the operator verifies the engine's certificate.
type TLSConfig struct {
	// caBundle is a PEM bundle of CAs to trust instead of the system roots.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle string `json:"caBundle,omitempty"`

	// insecureSkipVerify turns certificate verification off. For labs only.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// InfluxDB3Engine is InfluxDB 3 Enterprise or the in-cluster token engine (same token API).
type InfluxDB3Engine struct {
	// url of the server, e.g. http://token-engine.token-operator.svc:8181.
	// +required
	URL EngineURL `json:"url"`

	// adminTokenSecretRef is the Secret key holding an admin token (apiv3_…) allowed to create and delete tokens.
	// +required
	AdminTokenSecretRef SecretKeySelector `json:"adminTokenSecretRef"`

	// tls configures certificate verification for https URLs.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
}

// InfluxDB2Engine is an InfluxDB 2.x server; databases map to buckets of one organization.
type InfluxDB2Engine struct {
	// url of the server, e.g. http://influxdb.influx.svc:8086.
	// +required
	URL EngineURL `json:"url"`

	// org is the organization name or ID the buckets and authorizations belong to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Org string `json:"org"`

	// tokenSecretRef is the Secret key holding a token allowed to create authorizations in org.
	// +required
	TokenSecretRef SecretKeySelector `json:"tokenSecretRef"`

	// tls configures certificate verification for https URLs.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
}

// CloudDedicatedEngine is an InfluxDB Cloud Dedicated cluster, through its Management API.
type CloudDedicatedEngine struct {
	// url of the Management API.
	// +optional
	// +default="https://console.influxdata.com/api/v0"
	URL EngineURL `json:"url,omitempty"`

	// accountID is the account UUID.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="must be the account's UUID, e.g. 11111111-2222-3333-4444-555555555555"
	AccountID string `json:"accountID"`

	// clusterID is the cluster UUID.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="must be the cluster's UUID, e.g. 11111111-2222-3333-4444-555555555555"
	ClusterID string `json:"clusterID"`

	// managementTokenSecretRef is the Secret key holding a management token.
	// +required
	ManagementTokenSecretRef SecretKeySelector `json:"managementTokenSecretRef"`

	// dataURL is the cluster's data URL, offered to secret.extraKeys templates as .EngineURL.
	// +optional
	DataURL EngineURL `json:"dataURL,omitempty"`

	// tls configures certificate verification.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
}

// InfluxDB1Credentials points at an admin username and password in one Secret.
type InfluxDB1Credentials struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Secret; same rules as SecretKeySelector.namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// usernameKey is the key holding the admin username.
	// +optional
	// +default="username"
	UsernameKey string `json:"usernameKey,omitempty"`

	// passwordKey is the key holding the admin password.
	// +optional
	// +default="password"
	PasswordKey string `json:"passwordKey,omitempty"`
}

// InfluxDB1Engine is an InfluxDB 1.x server; each token is a user with grants.
type InfluxDB1Engine struct {
	// url of the server, e.g. http://influxdb.influx.svc:8086.
	// +required
	URL EngineURL `json:"url"`

	// credentialsSecretRef holds an admin user's username and password.
	// +required
	CredentialsSecretRef InfluxDB1Credentials `json:"credentialsSecretRef"`

	// tls configures certificate verification for https URLs.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`
}

// EngineSpec is the one-of union of engine kinds; exactly one member is set.
type EngineSpec struct {
	// influxdb3 is InfluxDB 3 Enterprise or the in-cluster token engine.
	// +optional
	InfluxDB3 *InfluxDB3Engine `json:"influxdb3,omitempty"`

	// influxdb2 is an InfluxDB 2.x server (authorizations API).
	// +optional
	InfluxDB2 *InfluxDB2Engine `json:"influxdb2,omitempty"`

	// cloudDedicated is an InfluxDB Cloud Dedicated cluster (Management API).
	// +optional
	CloudDedicated *CloudDedicatedEngine `json:"cloudDedicated,omitempty"`

	// influxdb1 is an InfluxDB 1.x server (users and grants).
	// +optional
	InfluxDB1 *InfluxDB1Engine `json:"influxdb1,omitempty"`
}

// AllowedNamespaces says which namespaces may use a ClusterTokenEngine: a list of names (with
// `*` globs) or a label selector, not both. An engine without allowedNamespaces serves no
// namespace; `{}` is refused rather than read as "all" (write matchNames ["*"] for that).
// +kubebuilder:validation:XValidation:rule="!(has(self.matchNames) && has(self.selector))",message="set either matchNames or selector, not both"
// +kubebuilder:validation:XValidation:rule="has(self.matchNames) || has(self.selector)",message="set matchNames or selector; an empty allowedNamespaces would serve no namespace (write matchNames: [\"*\"] for every namespace)"
// +kubebuilder:validation:XValidation:rule="!has(self.selector) || has(self.selector.matchLabels) || has(self.selector.matchExpressions)",message="an empty selector would match every namespace; write matchNames: [\"*\"] for that, or give the selector matchLabels or matchExpressions"
type AllowedNamespaces struct {
	// matchNames are namespace names; `*` matches any run of characters (e.g. team-*, or * for all).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	MatchNames []string `json:"matchNames,omitempty"`

	// selector matches namespaces by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// OrphanSweep says what the operator does with engine tokens that carry its name prefix
// (k8s.<namespace>.<name>.<uid[:8]>.r<revision>) but that no DatabaseToken or SystemToken
// accounts for (docs/design.md §4, docs/rotation.md "Orphan sweep").
// +kubebuilder:validation:Enum=Report;Revoke;Off
type OrphanSweep string

const (
	// OrphanSweepReport counts orphans in a metric and a Warning event on the engine resource.
	OrphanSweepReport OrphanSweep = "Report"
	// OrphanSweepRevoke reports orphans and revokes them once they are past the grace period.
	OrphanSweepRevoke OrphanSweep = "Revoke"
	// OrphanSweepOff lists nothing and reports nothing.
	OrphanSweepOff OrphanSweep = "Off"
)

// EngineStatus is the observed state of an engine resource.
type EngineStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, EngineReachable.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// type is the configured engine kind: influxdb3, influxdb2, cloudDedicated or influxdb1.
	// +optional
	Type string `json:"type,omitempty"`

	// url is the engine's API URL.
	// +optional
	URL string `json:"url,omitempty"`

	// lastCheckedAt is when the check that produced the current status ran. The operator re-checks
	// every engine about every 5 minutes (30 seconds while not Ready) but writes status only when
	// the outcome changes, so a steady engine keeps the time its current state was first seen.
	// +optional
	LastCheckedAt *metav1.Time `json:"lastCheckedAt,omitempty"`
}
