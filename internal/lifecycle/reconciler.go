package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engineref"
)

// Reconciler runs the token lifecycle for one kind.
type Reconciler[T client.Object] struct {
	// Client reads through the manager's cache (Secrets: only ours) and writes to the API server.
	Client client.Client
	// APIReader reads uncached; used only to confirm what the cache cannot show (a Secret that
	// is not ours, or one the cache has not caught up with) before acting on it.
	APIReader client.Reader
	// Recorder emits events, only on transitions.
	Recorder events.EventRecorder
	// Resolver finds the engine for a token.
	Resolver engineref.Resolver
	// Clock is the time source; a fake clock in tests.
	Clock clock.PassiveClock
	// Kind describes the resource kind.
	Kind TokenKind[T]
	// PendingGrace overrides DefaultPendingGrace when positive.
	PendingGrace time.Duration
	// LeaderSince, when set, returns when this manager acquired the leader lease (zero before
	// that, or without leader election); see Input.LeaderSince. Nil without leader election.
	LeaderSince func() time.Time
	// StepHook, when set, is called after each protocol step (tests only).
	StepHook StepHook
	// VerifyInterval overrides DefaultVerifyInterval when positive.
	VerifyInterval time.Duration

	// verified holds, per resource, when the engine last confirmed the current token: a restart
	// verifies tokens older than the interval once, which is cheap.
	verified perResource[time.Time]
	// recorded holds, per resource, the token this process last recorded as status.current
	// (step 5) and when: a pass that still sees that token pending has a stale view for certain
	// (status only moves forward) and waits for the cache without an uncached read (knownStale).
	// An entry goes when it has served, or with its resource.
	recorded perResource[recordedCurrent]
	// revoked holds, per resource, the expired current token this process revoked and whose
	// expiry's writes are still to come (expire, RevokedRequeue). Lost in a restart: the next
	// process revokes it again, which is harmless.
	revoked perResource[string]
}

// forget drops what this process remembers about a resource: it is gone, or going now.
func (r *Reconciler[T]) forget(name types.NamespacedName) {
	r.verified.forget(name)
	r.recorded.forget(name)
	r.revoked.forget(name)
}

func (r *Reconciler[T]) verifyInterval() time.Duration {
	if r.VerifyInterval > 0 {
		return r.VerifyInterval
	}
	return DefaultVerifyInterval
}

// defaultPriority is the work-queue priority of every pass but an expiry's bookkeeping
// (BookkeepingPriority): controller-runtime's default for new events.
const defaultPriority = 0

// errStopped ends a pass on the StepHook's request, as a crash would: no deferred write.
var errStopped = errors.New("stopped by the step hook")

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	obj := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := r.newScope(obj)

	if obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, tokensv1.Finalizer) && HasLiveTokens(s.status) {
		// Taken off by hand while tokens live: deletion must still revoke them. A resource that
		// never minted gets it with its first intent (recordIntent), in the same write.
		if err := s.patchMetadata(ctx, func(o T) { controllerutil.AddFinalizer(o, tokensv1.Finalizer) }, func() {}); err != nil {
			return s.kubeFailure(err)
		}
	}

	defer func() {
		if res.Priority == nil {
			res.Priority = new(defaultPriority)
		}
		if errors.Is(retErr, errStopped) {
			res, retErr = ctrl.Result{}, nil
			return
		}
		if s.released || s.stale {
			return
		}
		if retErr == nil || isTerminal(retErr) {
			// A terminal outcome observed this generation too: it waits for the next one.
			s.observed = true
		}
		if err := s.patchStatus(ctx); err != nil {
			if apierrors.IsConflict(err) {
				if isTerminal(retErr) {
					retErr = nil // the outcome is not written yet: the requeue writes it
				}
				res = minResult(res, ctrl.Result{RequeueAfter: ConflictRequeue})
				return
			}
			if isTerminal(retErr) {
				retErr = nil // a failed write must be retried, and a joined terminal error would stop that
			}
			if !apierrors.IsNotFound(err) {
				retErr = errors.Join(retErr, err)
			}
		}
	}()

	if !obj.GetDeletionTimestamp().IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	return r.reconcileNormal(ctx, s)
}

// scope is one pass over one token resource.
type scope[T client.Object] struct {
	r      *Reconciler[T]
	obj    T
	base   T // as last read or written: the patch base and optimistic-lock version
	spec   *tokensv1.TokenCommonSpec
	status *tokensv1.TokenStatus
	now    time.Time

	secretName       string
	secret           *corev1.Secret        // nil: none
	engine           *engineref.Resolved   // the engine the resource resolves to (nil until resolved)
	elsewhere        []*engineref.Resolved // engines of older tokens minted before spec.engineRef moved
	perms            []engine.Permission
	desired          Desired
	unsupported      bool                  // the kind needs system tokens and the engine has none (Input.Unsupported)
	tokenLost        bool                  // verifyLive: the engine no longer knows status.current (Input.TokenLost)
	denied           *engine.Error         // the engine's allowedNamespaces or policy refuses the spec (Input.NotPermitted)
	currentPermitted bool                  // denied, but the live token's grant is still permitted (Input.CurrentPermitted)
	released         bool                  // the finalizer is gone; the object may be too
	mintNotice       string                // the engine's message about a token just minted
	successorWhy     string                // why the token being minted replaces the current one ("" for the first)
	replaced         bool                  // this pass replaced the current token
	gap              time.Duration         // how long the Secret held no working token before this pass's successor
	gapFrom          *tokensv1.TokenRecord // the expired predecessor the gap started with
	stale            bool                  // the cached object is older than the API server's: write nothing
	observed         bool                  // this pass acted on the generation: patchStatus writes observedGeneration
	decision         Decision              // what the decide phase decided, for the act phase
	steady           bool                  // a current token, nothing pending, not expired: Wait means Ready
	verifyIn         time.Duration         // steady: when verifyLive is due again
	intentAnnotated  bool                  // status.pending is the first mint's intent annotation (intent.go)
}

func (r *Reconciler[T]) newScope(obj T) *scope[T] {
	s := &scope[T]{r: r, obj: obj, now: r.Clock.Now()}
	s.rebase()
	s.spec = r.Kind.Spec(obj)
	s.status = r.Kind.Status(obj)
	s.secretName = s.spec.Secret.Name
	if s.secretName == "" {
		s.secretName = obj.GetName()
	}
	s.intentFromAnnotation()
	return s
}

// rebase records the object as the API server now has it.
func (s *scope[T]) rebase() { s.base = s.obj.DeepCopyObject().(T) }

// patchStatus writes status, whole (patch.go:statusPatch), with the resourceVersion as a
// precondition, if it changed since the last write; nothing when it did not (steady state costs
// no writes). It is the one writer
// of observedGeneration: once the pass has observed the generation (s.observed).
func (s *scope[T]) patchStatus(ctx context.Context) error {
	if s.observed {
		s.status.ObservedGeneration = s.obj.GetGeneration()
	}
	was, err := json.Marshal(s.r.Kind.Status(s.base))
	if err != nil {
		return err
	}
	now, err := json.Marshal(s.status)
	if err != nil {
		return err
	}
	if bytes.Equal(was, now) {
		return nil
	}
	patch, err := statusPatch(s.base.GetResourceVersion(), now)
	if err != nil {
		return err
	}
	if err := s.r.Client.Status().Patch(ctx, s.obj, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return err
	}
	s.rebase()
	return nil
}

// step calls the StepHook.
func (s *scope[T]) step(ctx context.Context, st Step) error {
	if s.r.StepHook == nil {
		return nil
	}
	if err := s.r.StepHook(ctx, st, s.obj); err != nil {
		return errors.Join(errStopped, err)
	}
	return nil
}

// log is the pass's logger. Never give it a token or a whole Secret.
func (s *scope[T]) log(ctx context.Context) logr.Logger {
	return logf.FromContext(ctx).WithValues("kind", s.r.Kind.Name)
}

// minResult keeps the earliest requeue: the lowest requeue wins.
func minResult(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter > 0 && b.RequeueAfter < a.RequeueAfter) {
		a.RequeueAfter = b.RequeueAfter
	}
	return a
}
