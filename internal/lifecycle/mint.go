package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

var (
	// errSecretNotOurs: the target Secret exists and is not controlled by this resource.
	errSecretNotOurs = errors.New("the Secret is not ours")
	// errSuperseded: the Secret already holds a newer revision than the one being written.
	errSuperseded = errors.New("the Secret holds a newer revision")
)

// mint runs steps 2 to 5 of docs/design.md §3 for the next revision; why is "" for the first token and
// the successor reason otherwise. Everything that can refuse (spec, templates) is checked before
// the intent is recorded, so a refusal mints nothing.
func (s *scope[T]) mint(ctx context.Context, why string) (ctrl.Result, error) {
	ttl, err := ParseDuration(s.spec.ExpiresAfter)
	if err != nil {
		s.notReady(tokensv1.ReasonInvalidSpec, fmt.Sprintf("spec.expiresAfter: %v", err))
		return ctrl.Result{}, nil
	}
	rev := s.status.Revision + 1
	name := TokenName(s.obj.GetNamespace(), s.obj.GetName(), s.obj.GetUID(), rev)
	dbs := engine.Databases(s.perms)
	data := TemplateData{EngineURL: s.engine.WorkloadURL, Databases: dbs, TokenName: name, Namespace: s.obj.GetNamespace(), Name: s.obj.GetName()}
	if len(dbs) > 0 {
		data.Database = dbs[0]
	}
	extra, err := RenderExtraKeys(s.spec.Secret.ExtraKeys, data)
	if err != nil {
		s.notReady(tokensv1.ReasonTemplateError, fmt.Sprintf("%v; fix spec.secret.extraKeys (available: .EngineURL, .Databases, "+
			".Database, .TokenName, .Namespace, .Name, and join); no token was minted", err))
		return ctrl.Result{}, nil
	}

	// Step 2: record the intent; the resourceVersion precondition makes a second worker lose here.
	s.successorWhy = why
	s.status.Pending = &tokensv1.PendingMint{Revision: rev, TokenName: name, StartedAt: &metav1.Time{Time: s.now},
		Permissions: s.desired.Permissions, ExpiresAfter: s.desired.ExpiresAfter, RenewRequest: s.renewAnnotation(),
		Engine: s.engine.Identity()}
	s.status.Revision = rev
	if s.status.Current == nil {
		s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonMinting, fmt.Sprintf("Minting token %q", name))
	}
	if err := s.recordIntent(ctx); err != nil {
		return s.kubeFailure(err)
	}
	if err := s.step(ctx, StepPendingRecorded); err != nil {
		return ctrl.Result{}, err
	}

	// Step 3: mint; a name conflict is an earlier attempt whose plaintext was lost.
	minted, err := s.mintInEngine(ctx, engine.MintRequest{Name: name, Permissions: s.perms, TTL: ttl})
	if err != nil {
		s.rollBackIfNothingLive(ctx, name, err)
		return s.engineFailure(fmt.Sprintf("minting token %q", name), s.engine, err)
	}
	s.engineReachable()
	if err := s.step(ctx, StepMinted); err != nil {
		return ctrl.Result{}, err
	}

	// Step 4: the Secret, created or updated only if it is ours.
	if err := s.writeSecret(ctx, secretContent{tokenName: name, revision: rev, minted: minted, extra: extra}); err != nil {
		return s.secretWriteFailed(ctx, name, err)
	}
	if err := s.step(ctx, StepSecretWritten); err != nil {
		return ctrl.Result{}, err
	}

	// Step 5: status.current, pending cleared.
	info := engine.TokenInfo{Name: name, ID: minted.ID, CreatedAt: minted.CreatedAt, ExpiresAt: minted.ExpiresAt}
	if info.ExpiresAt == nil && ttl > 0 {
		// Engines without native expiry: the operator revokes at the resource's expiry.
		info.ExpiresAt = engine.ExpiresAt(s.createdOrNow(info.CreatedAt), ttl)
	}
	s.mintNotice = minted.Notice
	s.recordCurrent(info, Fingerprint(s.obj.GetUID(), []byte(minted.Token.Reveal())))
	return s.finishCurrent(ctx)
}

// finishCurrent writes step 5 and revokes predecessors due at once. Rollout restarts go first:
// they are idempotent, and workloads must have the successor before a predecessor is revoked.
func (s *scope[T]) finishCurrent(ctx context.Context) (ctrl.Result, error) {
	if s.replaced {
		s.restartTargets(ctx)
	}
	if err := s.patchStatus(ctx); err != nil {
		// The Secret holds the token: the next pass finds pending with a Secret and resumes.
		return s.kubeFailure(err)
	}
	c := s.status.Current
	s.r.recorded.store(s.obj, recordedCurrent{name: c.TokenName, at: s.now})
	s.log(ctx).Info("Minted token", "tokenName", c.TokenName, "revision", c.Revision, "secret", s.secretName, "why", s.successorWhy)
	note := fmt.Sprintf("Minted token %q (revision %d) into Secret %q", c.TokenName, c.Revision, s.secretName)
	if s.mintNotice != "" {
		note += ": " + s.mintNotice // e.g. an activation delay the engine announced
	}
	eventType, reason := corev1.EventTypeNormal, tokensv1.ReasonMinted
	if s.successorWhy != "" {
		reason = s.successorWhy
		note = successorNote(s.successorWhy) + "; " + note
		switch s.successorWhy {
		case WhyTokenChanged, WhyTokenLost:
			eventType = corev1.EventTypeWarning
		case WhyRenewedAfterExpiry:
			eventType = corev1.EventTypeWarning
			note = s.gapMessage() + "; " + note
		}
	}
	s.event(eventType, reason, actionMint, note)
	if err := s.step(ctx, StepCurrentRecorded); err != nil {
		return ctrl.Result{}, err
	}
	if err := s.revokeDuePrevious(ctx); err != nil {
		return s.engineFailure("revoking a predecessor token", s.engine, err)
	}
	return ctrl.Result{RequeueAfter: AfterRecord(s.status, s.desired, s.obj.GetAnnotations()[tokensv1.RenewAnnotation], s.now)}, nil
}

// mintInEngine is step 3 with its conflict path: revoke the name, mint again.
func (s *scope[T]) mintInEngine(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	eng := s.engine.Engine
	m, err := eng.Mint(ctx, req)
	if !engine.IsConflict(err) {
		return m, err
	}
	s.log(ctx).Info("Revoking a token whose mint response was lost", "tokenName", req.Name)
	if err := s.revoke(ctx, tokenRef{Name: req.Name}); err != nil {
		return engine.Minted{}, err
	}
	return eng.Mint(ctx, req)
}

// rollBackIfNothingLive undoes the pending record after a failed mint when no token of that
// name can exist: the engine refused (Permanent, Pending, Unauthorized), or a revocation of the
// name succeeded. The same revision is then tried again. Otherwise pending stays and a later
// pass abandons it (revokes the name, new revision).
func (s *scope[T]) rollBackIfNothingLive(ctx context.Context, name string, err error) {
	switch engine.KindOf(err) {
	case engine.Permanent, engine.Pending, engine.Unauthorized:
	default:
		if s.revoke(ctx, tokenRef{Name: name}) != nil {
			return
		}
	}
	s.dropPending(ctx)
}

// secretWriteFailed handles a step-4 failure; the minted token is revoked at once when it
// cannot be written, rather than waiting for the pending record to be abandoned.
func (s *scope[T]) secretWriteFailed(ctx context.Context, name string, err error) (ctrl.Result, error) {
	in := s.errorInput("", nil)
	in.Kubernetes = true
	o := MapError(in, fmt.Errorf("writing Secret %q: %w", s.secretName, err))
	if o.Class == ClassSuperseded {
		_ = s.revoke(ctx, tokenRef{Name: name})
		return o.Result()
	}
	if s.revoke(ctx, tokenRef{Name: name}) == nil {
		s.dropPending(ctx)
	}
	return s.applyOutcome(o)
}

// writeSecret is step 4. It creates the Secret or updates ours, never one that is not ours and
// never over a newer revision. Writes carry the resourceVersion; on a conflict it re-reads
// uncached and tries again, since it holds a plaintext that exists nowhere else.
func (s *scope[T]) writeSecret(ctx context.Context, c secretContent) error {
	uid := s.obj.GetUID()
	for range 3 {
		var err error
		if s.secret == nil {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.secretName, Namespace: s.obj.GetNamespace()}}
			applySecret(sec, &s.spec.Secret, uid, c)
			if err := controllerutil.SetControllerReference(s.obj, sec, s.r.Client.Scheme()); err != nil {
				return err
			}
			if err = s.r.Client.Create(ctx, sec); err == nil {
				s.secret = sec
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return err
			}
		} else {
			v := viewSecret(s.secret, uid)
			if !v.Ours {
				return errSecretNotOurs
			}
			if v.Revision > c.revision {
				return errSuperseded
			}
			sec := s.secret.DeepCopy()
			applySecret(sec, &s.spec.Secret, uid, c)
			if err = s.patchSecret(ctx, s.secret, sec); err == nil {
				s.secret = sec
				return nil
			}
			if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if err := s.rereadSecret(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("the Secret kept changing while it was being written")
}

// patchSecret writes sec, changed from base (the Secret as read), as a merge patch with the
// resourceVersion precondition: the cache holds our Secrets compacted (controllers/compact.go: no
// labels, only our annotations), so a write sends only what changed and leaves what the cache
// dropped as it is.
func (s *scope[T]) patchSecret(ctx context.Context, base, sec *corev1.Secret) error {
	return s.r.Client.Patch(ctx, sec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// rereadSecret reads the Secret uncached.
func (s *scope[T]) rereadSecret(ctx context.Context) error {
	sec := &corev1.Secret{}
	err := s.r.APIReader.Get(ctx, types.NamespacedName{Namespace: s.obj.GetNamespace(), Name: s.secretName}, sec)
	switch {
	case apierrors.IsNotFound(err):
		s.secret = nil
	case err != nil:
		return err
	default:
		s.secret = sec
	}
	return nil
}

// successorNote says why a successor was minted, for its event.
func successorNote(why string) string {
	switch why {
	case WhyRenewal:
		return "Renewed before expiry (rotation.renewBefore); the predecessor stays valid until it expires"
	case WhySpecChanged:
		return "The spec asks for other permissions or another expiry; the predecessor is revoked after rotation.overlap"
	case WhySecretMissing:
		return "The Secret was deleted; the predecessor is revoked after rotation.overlap"
	case WhyTokenChanged:
		return "The Secret's token was changed by hand and is treated as exposed; the predecessor was revoked at once"
	case WhyTokenLost:
		return "The engine no longer knows the live token (restored from an old backup, or revoked by hand)"
	case WhyRenewedAfterExpiry:
		return "The token expired before its successor could be minted (rotation.renewBefore); the successor was minted as soon as possible"
	case WhyEngineChanged:
		return "The resource now uses another engine; the successor was minted there, and the predecessor is revoked in the engine that minted it after rotation.overlap"
	case WhyRenewRequested:
		return "Renewed on request (annotation " + tokensv1.RenewAnnotation + "); the predecessor, if still valid, is revoked after rotation.overlap"
	}
	return why
}

// recordCurrent fills status.current from what the engine reported and clears pending. A
// replaced token moves to status.previous with its revocation time.
func (s *scope[T]) recordCurrent(info engine.TokenInfo, fingerprint string) {
	p := s.status.Pending
	rec := &tokensv1.TokenRecord{
		TokenName:    p.TokenName,
		TokenID:      info.ID,
		Revision:     p.Revision,
		MintedAt:     &metav1.Time{Time: s.createdOrNow(info.CreatedAt)},
		Fingerprint:  fingerprint,
		Permissions:  p.Permissions,
		ExpiresAfter: p.ExpiresAfter,
		Engine:       p.Engine,
	}
	if info.ExpiresAt != nil {
		// Whole seconds, as status stores it: this pass schedules the expiry by the same instant
		// later passes (and users) read, never after the engine's own.
		exp := info.ExpiresAt.Truncate(time.Second)
		rec.ExpiresAt = &metav1.Time{Time: exp}
		rec.RenewAt = s.renewAt(exp, rec.TokenName)
	}
	s.gap = 0
	if old := s.status.Current; old != nil && old.TokenName != rec.TokenName {
		if s.expired() {
			// Its expiry was carried out: revoked already, nothing to overlap with.
			s.gap, s.gapFrom = ExpiryGap(old.ExpiresAt, s.now), old
		} else {
			prev := *old
			prev.RenewAt = nil
			prev.RevokeAt = &metav1.Time{Time: PredecessorRevokeAt(s.successorWhy, old, s.now, s.overlap())}
			s.status.Previous = append(s.status.Previous, prev)
		}
		s.replaced = true
	}
	if p.RenewRequest != "" {
		s.status.LastRenewRequest = p.RenewRequest
	}
	if rec.Permissions != "" {
		s.status.Permissions = rec.Permissions
	}
	s.status.Current = rec
	s.status.Pending = nil
	s.observed = true // step 5's write says this generation has its token, whatever follows
	s.ready()
	if s.successorWhy == WhyRenewedAfterExpiry && s.gapFrom != nil {
		s.setCondition(tokensv1.ConditionExpired, metav1.ConditionFalse, tokensv1.ReasonRenewedAfterExpiry, s.gapMessage())
	} else {
		s.setCondition(tokensv1.ConditionExpired, metav1.ConditionFalse, tokensv1.ReasonNotExpired, notExpiredMessage)
	}
	s.noSecretConflict()
}

// gapMessage says how long the Secret held no working token before this pass's successor.
func (s *scope[T]) gapMessage() string {
	old := s.gapFrom
	if old == nil || old.ExpiresAt == nil {
		return "The predecessor expired before its successor was minted"
	}
	return fmt.Sprintf("Token %q (revision %d) expired at %s and its successor %q was written at %s: "+
		"the Secret held no working token for %s (the operator could not mint in time: not running, a mint interrupted, or the engine failing)",
		old.TokenName, old.Revision, old.ExpiresAt.UTC().Format(time.RFC3339), s.status.Current.TokenName,
		s.now.UTC().Format(time.RFC3339), s.gap.Round(time.Second))
}

// resumePending finishes step 5 after a restart: the Secret holds the pending revision, so only
// the engine's id and expiry are missing (Lookup). A pending token the engine no longer knows is
// abandoned instead.
func (s *scope[T]) resumePending(ctx context.Context) (ctrl.Result, error) {
	p := s.status.Pending
	eng, err := s.engineOf(ctx, p.Engine)
	if err != nil {
		return s.tokenEngineFailure(ctx, fmt.Sprintf("looking up pending token %q", p.TokenName), tokenRef{Name: p.TokenName, Engine: p.Engine}, err)
	}
	info, err := eng.Engine.Lookup(ctx, p.TokenName)
	if engine.IsNotFound(err) {
		if err := s.abandonPending(ctx); err != nil {
			return s.engineFailure("revoking an abandoned pending token", s.engine, err)
		}
		return ctrl.Result{RequeueAfter: ConflictRequeue}, nil
	}
	if err != nil {
		return s.engineFailure(fmt.Sprintf("looking up pending token %q", p.TokenName), eng, err)
	}
	s.engineReachable()
	s.log(ctx).Info("Resuming a mint whose Secret was written", "tokenName", p.TokenName, "revision", p.Revision)
	s.recordCurrent(info, Fingerprint(s.obj.GetUID(), s.secret.Data[tokensv1.TokenSecretKey]))
	return s.finishCurrent(ctx)
}

// expire carries out the current token's expiry (docs/design.md §4) in two passes: the first
// revokes it in the engine and requeues (RevokedRequeue); the next takes it out of the Secret,
// which stays, and records Expired. An engine failure leaves the Secret as it is.
func (s *scope[T]) expire(ctx context.Context) (ctrl.Result, error) {
	c := s.status.Current
	expired := fmt.Sprintf("Token %q expired at %s", c.TokenName, c.ExpiresAt.UTC().Format(time.RFC3339))
	if revoked, ok := s.r.revoked.load(s.obj); !ok || revoked != c.TokenName {
		// First pass: revoke, then let every other due expiry revoke before any writes.
		if err := s.revoke(ctx, refOf(c)); err != nil {
			res, rerr := s.tokenEngineFailure(ctx, fmt.Sprintf("revoking expired token %q", c.TokenName), refOf(c), err)
			// Expired says more than the engine error (EngineReachable carries that one).
			s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonExpired, expired+
				"; revoking it in the engine failed and is retried, and its Secret is left as it is until then")
			return res, rerr
		}
		s.engineReachable()
		s.r.revoked.store(s.obj, c.TokenName)
		return ctrl.Result{RequeueAfter: RevokedRequeue, Priority: new(BookkeepingPriority)}, nil
	}
	s.r.revoked.forgetIf(s.obj, c.TokenName)
	msg := fmt.Sprintf("%s and was revoked; its Secret %q no longer holds a token. For a new token, annotate the %s "+
		"%s=<a new value>; set spec.rotation.renewBefore to renew before expiry", expired, s.secretName, s.r.Kind.Name, tokensv1.RenewAnnotation)
	if s.renewBefore() > 0 {
		msg = fmt.Sprintf("%s before its successor was minted and was revoked; a successor is written to Secret %q as soon as one can be minted",
			expired, s.secretName)
	}
	s.setCondition(tokensv1.ConditionReady, metav1.ConditionFalse, tokensv1.ReasonExpired, msg)
	if s.secret != nil && ownedBy(s.secret, s.obj.GetUID()) {
		sec := s.secret.DeepCopy()
		if stripToken(sec, &s.spec.Secret) {
			if err := s.patchSecret(ctx, s.secret, sec); err != nil {
				return s.kubeFailure(err)
			}
			s.secret = sec
		}
	}
	if s.setCondition(tokensv1.ConditionExpired, metav1.ConditionTrue, tokensv1.ReasonExpired, msg) {
		s.log(ctx).Info("Expired token", "tokenName", c.TokenName, "revision", c.Revision)
		s.event(corev1.EventTypeWarning, tokensv1.ReasonExpired, actionExpire, msg)
	}
	return ctrl.Result{RequeueAfter: NextDeadline(s.status, s.now, true)}, nil
}

// overlap is rotation.overlap or its default.
func (s *scope[T]) overlap() time.Duration {
	if rot := s.spec.Rotation; rot != nil {
		if d, err := ParseDuration(rot.Overlap); err == nil && d > 0 {
			return d
		}
	}
	return DefaultOverlap
}

func (s *scope[T]) createdOrNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now
	}
	return t
}
