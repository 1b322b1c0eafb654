package lifecycle

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// TokenKind is what a token reconciler tells the lifecycle about its resource kind: how to reach the
// shared spec and status, and how to build the engine permissions. Nothing else differs.
type TokenKind[T client.Object] struct {
	// Name is the kind, e.g. "DatabaseToken", for logs, events and messages.
	Name string
	// New returns an empty object of the kind.
	New func() T
	// Spec and Status return the fields both token kinds share.
	Spec   func(T) *tokensv1.TokenCommonSpec
	Status func(T) *tokensv1.TokenStatus
	// Permissions builds the engine permissions from the spec.
	Permissions func(T) []engine.Permission
	// SystemTokens is true for kinds that need an engine with SupportsSystemTokens.
	SystemTokens bool
}

// Step names a point of the mint protocol, for the test-only StepHook.
type Step string

// The protocol steps after which StepHook is called.
const (
	// StepPendingRecorded: status.pending was written (docs/design.md §3 step 2).
	StepPendingRecorded Step = "PendingRecorded"
	// StepMinted: the engine minted the token (step 3); its plaintext exists only in memory.
	StepMinted Step = "Minted"
	// StepSecretWritten: the Secret holds the plaintext (step 4).
	StepSecretWritten Step = "SecretWritten"
	// StepCurrentRecorded: status.current was written and pending cleared (step 5).
	StepCurrentRecorded Step = "CurrentRecorded"
)

// StepHook is called after each protocol step. Tests use it to simulate a crash: a non-nil
// error ends the pass at once, with no further engine call or API write. Nil in production.
type StepHook func(ctx context.Context, step Step, obj client.Object) error

// Timing defaults. Expiry, renewal and predecessor revocation are exact RequeueAfter deadlines;
// these intervals only cover waits the lifecycle cannot observe through a watch.
const (
	// DefaultPendingGrace is how long a pending mint without a Secret is left alone before it is
	// abandoned: long enough for another worker's engine call (bounded by the HTTP client's
	// timeouts) to finish during a leader hand-over, short enough that a crash heals quickly.
	DefaultPendingGrace = 30 * time.Second
	// DefaultOverlap is rotation.overlap when unset (the CRD also defaults it).
	DefaultOverlap = 2 * time.Minute
	// EngineRetryInterval is when a token whose engine cannot be resolved is looked at again. The
	// token controllers also follow engine spec and readiness changes (controllers/engine_watch.go);
	// this covers what those do not show, such as a Namespace whose labels changed.
	EngineRetryInterval = 30 * time.Second
	// UnsupportedRetryInterval re-checks a token its engine cannot serve (a SystemToken on an
	// engine without system tokens), in case the engine resource changes.
	UnsupportedRetryInterval = 5 * time.Minute
	// SecretConflictRetryInterval re-checks a Secret that is not ours: it is outside our label-
	// filtered cache, so its deletion produces no event.
	SecretConflictRetryInterval = 30 * time.Second
	// ConflictRequeue follows an optimistic-concurrency conflict: another worker or a fresher
	// cache got there, and its event is normally on its way already.
	ConflictRequeue = time.Second
	// DefaultVerifyInterval is how often the engine is asked whether it still knows a live token
	// (docs/design.md §4 drift: a restored backup or a token revoked by hand). Slow on purpose: one
	// engine read per token per interval, no API writes.
	DefaultVerifyInterval = 30 * time.Minute
	// StaleRequeue is used when the cache shows a state older than one we know exists.
	StaleRequeue = 2 * time.Second
	// FollowUpRequeue asks for the next pass right after one that left work to do (AfterRecord).
	FollowUpRequeue = 100 * time.Millisecond
	// RevokedRequeue follows the revocation of an expired token: the rest of its expiry (Secret,
	// status, event) is left to a pass at the back of the work queue, so a burst of expiries
	// revokes every token in the engine before it spends API writes on any (docs/design.md §4).
	RevokedRequeue = time.Millisecond
	// BookkeepingPriority is the work-queue priority of that later pass: below every other pass
	// (0, controller-runtime's default), so that expiries falling due while a burst's writes are
	// queued still revoke first. Every other pass runs at priority 0 (Reconcile sets it, since
	// the queue would otherwise keep an item's last priority).
	BookkeepingPriority = -1
)
