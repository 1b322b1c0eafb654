package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Duration is a token lifetime in the units influxdb3's --expiry accepts: a whole number followed
// by s, m, h, d, w or y (a year is 365.25 days), optionally combined, e.g. 30m, 12h, 7d, 1y, 1d12h.
// +kubebuilder:validation:MaxLength=24
// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}[smhdwy])+$')",message=`must be a duration such as 30m, 12h, 7d or 1y: whole numbers with a unit of s, m, h, d, w or y (combine as 1d12h); negative values and other units are not accepted`
// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,6}[smhdwy])+$') || self.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum() > 0",message="must be longer than zero; omit the field instead of setting 0"
// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,6}[smhdwy])+$') || self.findAll('[0-9]+[smhdwy]').map(p, int(p.substring(0, p.size() - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, 'y': 31557600}[p.substring(p.size() - 1)]).sum() <= 315576000",message="must be at most 10y; omit expiresAfter for a token that never expires"
type Duration string

// EngineKind names the kind of an engine resource.
// +kubebuilder:validation:Enum=ClusterTokenEngine;TokenEngine
type EngineKind string

const (
	// ClusterTokenEngineKind is the kind of the cluster-scoped engine resource.
	ClusterTokenEngineKind EngineKind = "ClusterTokenEngine"
	// TokenEngineKind is the kind of the namespaced engine resource.
	TokenEngineKind EngineKind = "TokenEngine"
)

// EngineReference names the engine that mints a token.
type EngineReference struct {
	// kind is ClusterTokenEngine (default) or TokenEngine. A TokenEngine must be in the token's namespace.
	// +optional
	// +default="ClusterTokenEngine"
	Kind EngineKind `json:"kind,omitempty"`

	// name is the name of the engine resource.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// EngineIdentity records the engine resource a token was minted in, so that the token is
// revoked there even after spec.engineRef changes (docs/design.md §4, engine changes).
type EngineIdentity struct {
	// kind is ClusterTokenEngine or TokenEngine (a TokenEngine in the token's namespace).
	// +required
	Kind EngineKind `json:"kind"`

	// name is the engine resource's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// uid is the engine resource's UID when the token was minted. An engine re-created under
	// the same kind and name is the same engine to the operator; the UID tells a person that
	// it was re-created.
	// +optional
	UID types.UID `json:"uid,omitempty"`
}

// Rotation configures renewal before expiry and how long a predecessor stays valid.
type Rotation struct {
	// renewBefore mints a successor this long before the token expires, so workloads never hold
	// an expired token. It needs spec.expiresAfter and must be shorter than it. Same units as expiresAfter.
	// +optional
	RenewBefore *Duration `json:"renewBefore,omitempty"`

	// overlap is how long a predecessor stays valid after a successor replaced it because the
	// spec changed (a scheduled renewal keeps the predecessor until its own expiry). Default 2m:
	// kubelet refreshes mounted Secrets at its pod resync, within about 90 s (measured in docs/node.md).
	// +optional
	// +default="2m"
	Overlap *Duration `json:"overlap,omitempty"`
}

// RolloutTargetKind is a workload kind that can be restarted when the token changes.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type RolloutTargetKind string

// RolloutTarget names a workload in the token's namespace to restart when the token changes.
type RolloutTarget struct {
	// kind is Deployment, StatefulSet or DaemonSet.
	// +required
	Kind RolloutTargetKind `json:"kind"`

	// name is the workload's name, in the token's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretTemplate describes the Secret the token is written to.
type SecretTemplate struct {
	// name of the Secret, in the token's namespace. Defaults to the token resource's name.
	// A Secret of that name that the operator does not own is never overwritten.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="must be a valid Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. telegraf-influx)"
	Name string `json:"name,omitempty"`

	// labels are added to the Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to the Secret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// extraKeys are Go templates rendered into further Secret keys beside `token`, e.g.
	// {INFLUX_HOST: "{{ .EngineURL }}"}. Available: .EngineURL, .Databases (list), .Database
	// (the first), .TokenName, .Namespace, .Name; functions join, and, or, not, len, index and
	// comparisons; range only over a field. Templates are bounded (4096 characters each, 8 KiB
	// output per key, 64 KiB per Secret, 100ms); a template error or a bound is reported as
	// Ready=False TemplateError. They are rendered when a token is minted: an edit, or a change
	// of what they read (the engine's URL), reaches the Secret with the next token (a renewal, a
	// permission change, or the tokens.tokenops.dev/renew annotation).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="!('token' in self)",message=`"token" is reserved for the token itself; choose another key name`
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 253 && k.matches('^[-._a-zA-Z0-9]+$'))",message="keys must be valid Secret keys: letters, digits, '-', '_' and '.', at most 253 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() <= 4096)",message="each extraKeys template is at most 4096 characters"
	ExtraKeys map[string]string `json:"extraKeys,omitempty"`

	// rolloutRestartTargets are workloads in the token's namespace whose pod template gets a
	// restart annotation whenever the token changes, for workloads that read it from environment variables.
	// A workload is restarted only if it opts in with the annotation
	// tokens.tokenops.dev/restart-on set to this resource's name.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	RolloutRestartTargets []RolloutTarget `json:"rolloutRestartTargets,omitempty"`
}

// DeletionPolicy says what happens to the engine token and Secret when the resource is deleted.
// +kubebuilder:validation:Enum=Revoke;Retain
type DeletionPolicy string

const (
	// DeletionPolicyRevoke revokes the token in the engine and deletes the Secret (default).
	DeletionPolicyRevoke DeletionPolicy = "Revoke"
	// DeletionPolicyRetain leaves the token live and the Secret in place.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// TokenCommonSpec holds the fields both token kinds share.
type TokenCommonSpec struct {
	// engineRef names the engine that mints the token. Omitted: the ClusterTokenEngine annotated
	// tokens.tokenops.dev/default: "true".
	// +optional
	EngineRef *EngineReference `json:"engineRef,omitempty"`

	// expiresAfter is the token's lifetime from minting, e.g. 720h, 7d, 1y (units s, m, h, d, w, y).
	// Omitted: the token never expires. At expiry the token is revoked and removed from the Secret,
	// unless rotation.renewBefore minted a successor first.
	// +optional
	ExpiresAfter *Duration `json:"expiresAfter,omitempty"`

	// rotation renews the token before it expires.
	// +optional
	Rotation *Rotation `json:"rotation,omitempty"`

	// secret describes the Secret the token is written to (key `token`).
	// +optional
	Secret SecretTemplate `json:"secret,omitempty"`

	// deletionPolicy is Revoke (default: revoke the token and delete the Secret when this resource
	// is deleted) or Retain (leave both in place).
	// +optional
	// +default="Revoke"
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// TokenRecord describes one minted token. It never holds the token itself.
type TokenRecord struct {
	// tokenName is the engine-side name: k8s.<namespace>.<name>.<uid[:8]>.r<revision>.
	TokenName string `json:"tokenName"`
	// tokenID is the engine's own handle for the token. On engines whose token names are not
	// unique (InfluxDB 2.x, Cloud Dedicated) the token is revoked by it, once the engine confirms
	// that it still carries tokenName.
	// +optional
	TokenID string `json:"tokenID,omitempty"`
	// revision counts the mints of this resource; this token's mint number.
	Revision int64 `json:"revision"`
	// mintedAt is when the token was minted.
	// +optional
	MintedAt *metav1.Time `json:"mintedAt,omitempty"`
	// expiresAt is when the token expires; empty when it never does.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// renewAt is when a successor will be minted; empty without rotation.
	// +optional
	RenewAt *metav1.Time `json:"renewAt,omitempty"`
	// revokeAt is when a predecessor will be revoked (status.previous only).
	// +optional
	RevokeAt *metav1.Time `json:"revokeAt,omitempty"`
	// fingerprint is a keyed hash of the token, to notice a Secret changed by hand. Never the token.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// permissions is what this token grants (RESOURCE:NAMES:ACTIONS). Engine tokens cannot change
	// permissions, so a spec asking for others mints a successor.
	// +optional
	Permissions string `json:"permissions,omitempty"`
	// expiresAfter is the spec.expiresAfter this token was minted for; a new value mints a successor.
	// A plain string: status is written by the operator, and Duration's CEL rules would cost
	// admission budget for every status.previous entry.
	// +optional
	// +kubebuilder:validation:MaxLength=24
	ExpiresAfter string `json:"expiresAfter,omitempty"`
	// engine is the engine resource the token was minted in, where it is revoked. Empty on
	// records written before it was recorded: those are taken to live in the resource's engine.
	// +optional
	Engine *EngineIdentity `json:"engine,omitempty"`
}

// PendingMint records a mint in progress, written before the engine is called (docs/design.md §3).
type PendingMint struct {
	// revision is the mint number being attempted.
	Revision int64 `json:"revision"`
	// tokenName is the engine-side name being minted.
	TokenName string `json:"tokenName"`
	// startedAt is when the attempt was recorded.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// permissions and expiresAfter are what the token is being minted for (see TokenRecord), so a
	// mint resumed after a restart records what it was really minted with.
	// +optional
	Permissions string `json:"permissions,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=24
	ExpiresAfter string `json:"expiresAfter,omitempty"`
	// renewRequest is the tokens.tokenops.dev/renew annotation value when the attempt was
	// recorded; it becomes status.lastRenewRequest once the token is recorded, so a request whose
	// mint is abandoned after a crash is still honoured.
	// +optional
	RenewRequest string `json:"renewRequest,omitempty"`
	// engine is the engine resource the token is being minted in.
	// +optional
	Engine *EngineIdentity `json:"engine,omitempty"`
}

// TokenStatus is the observed state both token kinds share.
type TokenStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, EngineReachable, SecretConflict, RevocationFailed, Expired.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// secretName is the Secret holding the token.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// permissions summarises what the live token grants (what the spec asks for until the first
	// mint), in influxdb3's RESOURCE:NAMES:ACTIONS notation.
	// +optional
	Permissions string `json:"permissions,omitempty"`

	// revision is the number of mints so far; the next mint uses revision+1.
	// +optional
	Revision int64 `json:"revision,omitempty"`

	// current is the live token written to the Secret.
	// +optional
	Current *TokenRecord `json:"current,omitempty"`

	// pending is a mint in progress; see docs/design.md §3 for how a restart resumes it.
	// +optional
	Pending *PendingMint `json:"pending,omitempty"`

	// lastRenewRequest is the last tokens.tokenops.dev/renew annotation value a minted token
	// answered; a different, non-empty value asks for a successor.
	// +optional
	LastRenewRequest string `json:"lastRenewRequest,omitempty"`

	// previous are predecessors still valid during their overlap window, revoked at revokeAt.
	// +optional
	// +listType=atomic
	Previous []TokenRecord `json:"previous,omitempty"`
}
