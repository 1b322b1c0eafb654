package v1alpha1

// Finalizer, labels and annotations (docs/design.md §6).
const (
	// Finalizer is set on a token resource, in the same write as the intent of its first mint
	// (PendingMintAnnotation), so that deletion revokes its engine tokens first. A resource that
	// never minted owns no engine token and needs none.
	Finalizer = "tokens.tokenops.dev/revoke"
	// PendingMintAnnotation records the intent of a resource's first mint (a JSON PendingMint),
	// written with the finalizer in one optimistic-locked patch before the engine is called; it
	// stands for status.pending until status.revision reaches its revision, and is ignored after
	// that (docs/design.md §3, step 2). Set by the operator only; one that does not name the
	// resource's own next token is ignored.
	PendingMintAnnotation = "tokens.tokenops.dev/pending-mint"

	// EngineCredentialsLabel set to "true" marks a Secret a TokenEngine may read its credentials
	// from. A TokenEngine reads no other Secret, so a person who may create TokenEngines but not
	// read Secrets cannot have the operator send any Secret of the namespace to a URL of their
	// choosing (docs/security.md). ClusterTokenEngines, created by cluster admins, need no label.
	EngineCredentialsLabel = "tokens.tokenops.dev/engine-credentials"

	// ManagedByLabel marks the Secrets the operator writes; the manager caches only Secrets with it.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on our Secrets.
	ManagedByValue = "token-operator"
	// OwnerUIDLabel carries the UID of the token resource that owns a Secret.
	OwnerUIDLabel = "tokens.tokenops.dev/owner-uid"

	// DefaultEngineAnnotation set to "true" on a ClusterTokenEngine makes it the engine used by
	// tokens that omit spec.engineRef.
	DefaultEngineAnnotation = "tokens.tokenops.dev/default"
	// SkipRevocationAnnotation set to "true" on a token resource lets its deletion finish without
	// revoking in the engine: the way a person releases a resource whose engine is gone for good.
	SkipRevocationAnnotation = "tokens.tokenops.dev/skip-revocation"
	// TokenNameAnnotation on a Secret names the engine-side token whose plaintext it holds.
	TokenNameAnnotation = "tokens.tokenops.dev/token-name"
	// RevisionAnnotation on a Secret is the mint revision whose plaintext it holds (docs/design.md §3).
	RevisionAnnotation = "tokens.tokenops.dev/revision"
	// RenewAnnotation on a token resource asks for a successor now, with the normal overlap, as
	// cert-manager's `cmctl renew` does: every new value mints once (the last handled value is
	// status.lastRenewRequest). It also revives an expired token without deleting the resource.
	RenewAnnotation = "tokens.tokenops.dev/renew"
	// RestartedAtAnnotation is set on the pod template of rollout-restart targets when the token changes.
	RestartedAtAnnotation = "tokens.tokenops.dev/restartedAt"
	// RestartOnAnnotation on a Deployment, StatefulSet or DaemonSet names the token resource (in
	// the workload's namespace) allowed to restart it through rolloutRestartTargets: the target
	// opts in, so a token's author cannot restart workloads they do not own (docs/security.md).
	RestartOnAnnotation = "tokens.tokenops.dev/restart-on"

	// TokenSecretKey is the Secret key that holds the token.
	TokenSecretKey = "token"
)

// Condition types (docs/design.md §6).
const (
	// ConditionReady is True when the Secret holds a live token the engine accepts.
	ConditionReady = "Ready"
	// ConditionEngineReachable is False while the engine cannot be reached or refuses our credentials.
	ConditionEngineReachable = "EngineReachable"
	// ConditionSecretConflict is True when a Secret of the target name exists and is not ours.
	ConditionSecretConflict = "SecretConflict"
	// ConditionRevocationFailed is True while revoking a token in the engine keeps failing.
	ConditionRevocationFailed = "RevocationFailed"
	// ConditionExpired is True once the token reached its expiry and was revoked.
	ConditionExpired = "Expired"
	// ConditionRolloutRestartFailed is True when a spec.secret.rolloutRestartTargets workload could
	// not be restarted after the token changed (most often: it does not exist).
	ConditionRolloutRestartFailed = "RolloutRestartFailed"
)

// Condition reasons. CamelCase, one word each, stable: tools and alerts match on them.
const (
	// ReasonMinted: a token was minted and written to the Secret.
	ReasonMinted = "Minted"
	// ReasonMinting: a mint is in progress (status.pending is set).
	ReasonMinting = "Minting"
	// ReasonEngineNotFound: the referenced engine resource does not exist.
	ReasonEngineNotFound = "EngineNotFound"
	// ReasonEngineNotReady: the referenced engine exists but is not Ready.
	ReasonEngineNotReady = "EngineNotReady"
	// ReasonNotPermitted: the engine does not allow this namespace or these permissions.
	ReasonNotPermitted = "NotPermitted"
	// ReasonUnsupported: the engine cannot express what the spec asks for (e.g. a SystemToken on InfluxDB 2.x).
	ReasonUnsupported = "Unsupported"
	// ReasonEngineError: the engine answered with an error we will retry.
	ReasonEngineError = "EngineError"
	// ReasonEngineRejected: the engine refused the request for good; fix the spec.
	ReasonEngineRejected = "EngineRejected"
	// ReasonUnauthorized: the engine refused the operator's credentials.
	ReasonUnauthorized = "Unauthorized"
	// ReasonUnreachable: the engine could not be reached.
	ReasonUnreachable = "Unreachable"
	// ReasonReachable: the engine answered an authenticated check.
	ReasonReachable = "Reachable"
	// ReasonDatabaseNotFound: the engine does not know a requested database yet.
	ReasonDatabaseNotFound = "DatabaseNotFound"
	// ReasonSecretExists: a Secret of the target name exists and is not owned by this resource.
	ReasonSecretExists = "SecretExists"
	// ReasonNoConflict: the Secret is ours.
	ReasonNoConflict = "NoConflict"
	// ReasonTemplateError: a secret.extraKeys template failed to render.
	ReasonTemplateError = "TemplateError"
	// ReasonExpired: the token reached its expiry and was revoked.
	ReasonExpired = "Expired"
	// ReasonNotExpired: the token has not reached its expiry.
	ReasonNotExpired = "NotExpired"
	// ReasonRevocationFailed: the engine could not revoke a token; retried with backoff.
	ReasonRevocationFailed = "RevocationFailed"
	// ReasonRevoked: revocation succeeded.
	ReasonRevoked = "Revoked"
	// ReasonCredentialsNotFound: the engine's credentials Secret or key is missing.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonInvalidConfig: the engine spec cannot be turned into a client (e.g. a bad CA bundle).
	ReasonInvalidConfig = "InvalidConfig"
)

// Condition reasons added with the token lifecycle.
const (
	// ReasonInvalidSpec: the spec holds a value admission should have refused (e.g. a malformed
	// duration written before validation existed); fix the spec.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonRenewed: a successor was minted at status.current.renewAt (rotation.renewBefore); the
	// predecessor stays valid until its own expiry (an event reason).
	ReasonRenewed = "Renewed"
	// ReasonSpecChanged: permissions or expiresAfter changed, so a successor was minted; the
	// predecessor is revoked after rotation.overlap (an event reason).
	ReasonSpecChanged = "SpecChanged"
	// ReasonEngineChanged: spec.engineRef (or the default engine) now names another engine than
	// the one the live token was minted in, so a successor was minted in the new engine; the
	// predecessor is revoked in the engine it was minted in after rotation.overlap (an event reason).
	ReasonEngineChanged = "EngineChanged"
	// ReasonSecretMissing: the Secret was deleted, so a successor was minted into a new one; the
	// predecessor is revoked after rotation.overlap (an event reason).
	ReasonSecretMissing = "SecretMissing"
	// ReasonTokenChanged: the Secret's token was changed by hand; it is treated as exposed, a
	// successor is written and the predecessor revoked at once (an event reason).
	ReasonTokenChanged = "TokenChanged"
	// ReasonTokenLost: the engine no longer knows the live token (restored from an old backup, or
	// revoked by hand), so a successor was minted (an event reason).
	ReasonTokenLost = "TokenLost"
	// ReasonRenewedAfterExpiry: a rotating token's current revision expired before its successor
	// could be minted (the operator was down, a mint was interrupted, the engine refused); the
	// successor was minted as soon as the operator could, and the message says how long the Secret
	// held no working token (a Warning event reason and the Expired=False reason until the next mint).
	ReasonRenewedAfterExpiry = "RenewedAfterExpiry"
	// ReasonRenewRequested: a new value of the tokens.tokenops.dev/renew annotation minted a
	// successor; the predecessor is revoked after rotation.overlap (an event reason).
	ReasonRenewRequested = "RenewRequested"
	// ReasonTargetNotFound: a rollout restart target does not exist in the token's namespace.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonTargetNotOptedIn: a rollout restart target lacks RestartOnAnnotation naming this token.
	ReasonTargetNotOptedIn = "TargetNotOptedIn"
	// ReasonRestartFailed: patching a rollout restart target failed for another reason.
	ReasonRestartFailed = "RestartFailed"
	// ReasonRestarted: every rollout restart target got the restart annotation.
	ReasonRestarted = "Restarted"
	// ReasonRevocationSkipped: the resource was released without revoking its tokens because of
	// the skip-revocation annotation (an event reason).
	ReasonRevocationSkipped = "RevocationSkipped"
	// ReasonNotOurToken: status named an engine token without this resource's own name prefix, so
	// it was not revoked (an event reason; anyone who may patch status controls those names).
	ReasonNotOurToken = "NotOurToken"
)

// Condition reasons added with the engine reconcilers and the engine resolver.
const (
	// ReasonMultipleDefaultEngines: a token omits spec.engineRef and more than one
	// ClusterTokenEngine carries the default annotation; keep it on exactly one.
	ReasonMultipleDefaultEngines = "MultipleDefaultEngines"
	// ReasonNotChecked: the engine's current spec has not been checked yet.
	ReasonNotChecked = "NotChecked"
	// ReasonOrphanTokens: the engine holds tokens with our name prefix that no token resource
	// accounts for (a Warning event on the engine resource, on each change of the set).
	ReasonOrphanTokens = "OrphanTokens"
	// ReasonOrphanTokensRevoked: spec.orphanSweep is Revoke and the sweep revoked orphans (a
	// Warning event on the engine resource).
	ReasonOrphanTokensRevoked = "OrphanTokensRevoked"
)
