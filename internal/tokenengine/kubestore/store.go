package kubestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storev1 "github.com/tokenops/token-operator/api/enginestore/v1alpha1"
	"github.com/tokenops/token-operator/internal/defaults"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

// Defaults for Config fields left zero.
const (
	// DefaultMaxWatchGap is how long the watch may be broken before the replica fails closed. A
	// revoke made through another replica while this one's watch is down is missed for at most
	// this long; while the API server itself is down nobody can revoke, so nothing is missed.
	DefaultMaxWatchGap = 2 * time.Second
	// DefaultSyncTimeout bounds the wait for the first list in New.
	DefaultSyncTimeout = 60 * time.Second
	// DefaultWriteTimeout bounds one write to the API server.
	DefaultWriteTimeout = 10 * time.Second
)

// LabelManagedBy and ManagedBy mark the engine's objects.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "token-engine"
)

// maxID keeps ids below 2^53 so that JSON clients that read numbers as doubles keep them exact.
const maxID = 1 << 53

// Config configures a Store.
type Config struct {
	// RestConfig reaches the API server.
	RestConfig *rest.Config
	// Namespace holds the EngineTokens: the engine's own namespace.
	Namespace string
	// MaxWatchGap is DefaultMaxWatchGap when zero.
	MaxWatchGap time.Duration
	// SyncTimeout is DefaultSyncTimeout when zero.
	SyncTimeout time.Duration
	// Clock is the real clock when nil.
	Clock clock.PassiveClock
	// Logger discards when nil.
	Logger *slog.Logger
}

// entry is an indexed record with the object identity its writes are conditioned on.
type entry struct {
	rec *tokenengine.Record
	uid types.UID
	rv  string
}

// Store implements tokenengine.Store over EngineTokens.
type Store struct {
	cfg    Config
	log    *slog.Logger
	client client.WithWatch
	stop   context.CancelFunc
	done   chan struct{}
	synced atomic.Bool // the first list is in the index

	mu       sync.RWMutex
	byDigest map[tokenengine.Digest]*tokenengine.Record
	byName   map[string]*entry
	// deleted holds UIDs this replica deleted until the watch reports the deletion, so that an
	// older event still in flight cannot bring the token back.
	deleted map[types.UID]struct{}

	watchMu   sync.Mutex
	watching  int       // open watches
	downSince time.Time // zero while a watch is open
}

var _ tokenengine.Store = (*Store)(nil)

// Scheme returns a runtime scheme with the EngineToken kinds.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := storev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// New starts the informer and returns once the first list is in the index, or fails after
// SyncTimeout. Close stops it.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.RestConfig == nil || cfg.Namespace == "" {
		return nil, errors.New("the kubernetes store needs a rest config and a namespace")
	}
	cfg.MaxWatchGap = defaults.Positive(cfg.MaxWatchGap, DefaultMaxWatchGap)
	cfg.SyncTimeout = defaults.Positive(cfg.SyncTimeout, DefaultSyncTimeout)
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := client.NewWithWatch(cfg.RestConfig, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	s := &Store{cfg: cfg, log: cfg.Logger, client: c, done: make(chan struct{}),
		byDigest: map[tokenengine.Digest]*tokenengine.Record{}, byName: map[string]*entry{}, deleted: map[types.UID]struct{}{},
		downSince: cfg.Clock.Now()}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			l := &storev1.EngineTokenList{}
			err := c.List(ctx, l, client.InNamespace(cfg.Namespace), &client.ListOptions{Raw: &opts})
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := c.Watch(ctx, &storev1.EngineTokenList{}, client.InNamespace(cfg.Namespace), &client.ListOptions{Raw: &opts})
			if err != nil {
				s.log.Warn("Failed to watch EngineTokens", "namespace", cfg.Namespace, "err", err)
				return nil, err
			}
			return s.track(w), nil
		},
	}
	r := cache.NewReflectorWithOptions(lw, &storev1.EngineToken{}, (*reflectorStore)(s), cache.ReflectorOptions{
		Name: "enginetokens", Backoff: retryBackoff(cfg.MaxWatchGap)})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go func() { defer close(s.done); r.RunWithContext(runCtx) }()
	syncCtx, cancel := context.WithTimeout(ctx, cfg.SyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), s.synced.Load) {
		_ = s.Close()
		return nil, fmt.Errorf("the EngineTokens in namespace %s were not listed within %s (is the CRD installed, may the engine list them?)", cfg.Namespace, cfg.SyncTimeout)
	}
	s.log.Info("Synced the token store", "namespace", cfg.Namespace, "tokens", len(s.List()))
	return s, nil
}

// Close stops the informer.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return nil
}

// Ready implements tokenengine.Store (see readiness).
func (s *Store) Ready() error {
	s.watchMu.Lock()
	watching, downSince := s.watching > 0, s.downSince
	s.watchMu.Unlock()
	return readiness(s.synced.Load(), watching, s.cfg.Clock.Since(downSince), s.cfg.MaxWatchGap)
}

// readiness decides whether a replica may answer: only after its first list was applied, and
// only while a watch is open or has been down for at most maxGap (docs/token-engine.md,
// "Replicas"). Pure, table-tested (TestReadiness).
func readiness(synced, watching bool, down, maxGap time.Duration) error {
	switch {
	case !synced:
		return errors.New("the token store has not listed its EngineTokens yet")
	case !watching && down > maxGap:
		return fmt.Errorf("the EngineToken watch has been down for %s (more than %s)", down.Round(time.Millisecond), maxGap)
	}
	return nil
}

// track wraps an open watch so that Ready knows when it ends. A watch that delivered nothing but
// an error (after an API server restart the first one is usually "too old resource version")
// never brought the index up to date, so the gap keeps counting from before it opened.
func (s *Store) track(w watch.Interface) watch.Interface {
	s.watchMu.Lock()
	s.watching++
	staleSince := s.downSince
	s.watchMu.Unlock()
	out := make(chan watch.Event)
	tw := &trackedWatch{inner: w, out: out, stopped: make(chan struct{})}
	go func() {
		var current, failed bool
		defer func() {
			close(out)
			s.watchMu.Lock()
			s.watching--
			if s.watching == 0 {
				s.downSince = s.cfg.Clock.Now()
				if failed && !current {
					s.downSince = staleSince
				}
			}
			s.watchMu.Unlock()
		}()
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				failed = true
				s.log.Warn("The EngineToken watch reported an error", "err", apierrors.FromObject(ev.Object))
			} else {
				current = true
			}
			select {
			case out <- ev:
			case <-tw.stopped:
				return
			}
		}
	}()
	return tw
}

type trackedWatch struct {
	inner    watch.Interface
	out      chan watch.Event
	stopOnce sync.Once
	stopped  chan struct{}
}

func (w *trackedWatch) Stop() {
	w.stopOnce.Do(func() { close(w.stopped); w.inner.Stop() })
}

func (w *trackedWatch) ResultChan() <-chan watch.Event { return w.out }

// apply indexes an object from the watch or from this replica's own write.
func (s *Store) apply(o any) {
	obj, ok := o.(*storev1.EngineToken)
	if !ok {
		return
	}
	rec, err := toRecord(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.deleted[obj.UID]; gone {
		return
	}
	cur := s.byName[obj.Spec.Name]
	if cur != nil && cur.uid == obj.UID && olderRV(obj.ResourceVersion, cur.rv) {
		return // an event older than what this replica already wrote
	}
	if cur != nil {
		delete(s.byDigest, cur.rec.Digest)
		delete(s.byName, obj.Spec.Name)
	}
	if err != nil {
		// Unreadable: nobody authorizes with it, and it is logged without its content.
		s.log.Error("Ignored an EngineToken", "err", err)
		return
	}
	s.byName[rec.Name] = &entry{rec: rec, uid: obj.UID, rv: obj.ResourceVersion}
	s.byDigest[rec.Digest] = rec
}

// retryBackoff paces the reflector's retries after a failed list or watch. client-go's default
// grows to 30 s, and after an API server restart the first watch usually fails ("too old
// resource version"), so replicas stayed failed closed for up to half a minute after the API
// server was back. Capped at half the watch gap, a replica is ready again within about one gap
// of the API server's return; the price is one request per replica per retry during an outage.
func retryBackoff(maxGap time.Duration) *wait.Backoff {
	return &wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 64,
		Cap: max(maxGap/2, 100*time.Millisecond)}
}

// reflectorStore is the Store as the reflector's sink: lists and watch events go straight into
// the index, with no second copy of every object in an informer cache.
type reflectorStore Store

func (rs *reflectorStore) Add(o any) error    { (*Store)(rs).apply(o); return nil }
func (rs *reflectorStore) Update(o any) error { (*Store)(rs).apply(o); return nil }
func (rs *reflectorStore) Delete(o any) error { (*Store)(rs).remove(o); return nil }
func (rs *reflectorStore) Resync() error      { return nil }

// Replace applies a full list taken at resourceVersion rv: tokens missing from it are dropped,
// unless this replica wrote them after rv (their watch event is still to come).
func (rs *reflectorStore) Replace(list []any, rv string) error {
	s := (*Store)(rs)
	listed := make(map[types.UID]struct{}, len(list))
	for _, o := range list {
		if obj, ok := o.(*storev1.EngineToken); ok {
			listed[obj.UID] = struct{}{}
		}
		s.apply(o)
	}
	s.mu.Lock()
	for name, e := range s.byName {
		if _, ok := listed[e.uid]; !ok && !olderRV(rv, e.rv) {
			s.dropLocked(name, e.uid)
		}
	}
	for uid := range s.deleted {
		if _, ok := listed[uid]; !ok {
			delete(s.deleted, uid) // the list confirms the deletion
		}
	}
	s.mu.Unlock()
	s.watchMu.Lock()
	if s.watching == 0 {
		s.downSince = s.cfg.Clock.Now() // the list brought the index up to date
	}
	s.watchMu.Unlock()
	s.synced.Store(true)
	return nil
}

// remove drops a deleted object from the index. The reflector hands over the watch's object
// itself (DeletedFinalStateUnknown is an informer's DeltaFIFO artefact; Replace covers missed deletions).
func (s *Store) remove(o any) {
	obj, ok := o.(*storev1.EngineToken)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deleted, obj.UID)
	s.dropLocked(obj.Spec.Name, obj.UID)
}

func (s *Store) dropLocked(name string, uid types.UID) {
	if cur := s.byName[name]; cur != nil && cur.uid == uid {
		delete(s.byDigest, cur.rec.Digest)
		delete(s.byName, name)
	}
}

// olderRV reports whether resourceVersion a is older than b; unknown forms count as not older.
func olderRV(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
}

func (s *Store) writeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), DefaultWriteTimeout)
}

// Create implements tokenengine.Store. The id is random below 2^53: replicas need no shared
// counter (which would cost a second, contended write per mint), and a collision only makes two
// rows of system.tokens share a token_id, never an authorization (names and digests identify
// tokens).
func (s *Store) Create(r *tokenengine.Record) error {
	r.ID = 1 + rand.Uint64N(maxID-1)
	obj := toObject(r, s.cfg.Namespace)
	ctx, cancel := s.writeCtx()
	defer cancel()
	if err := s.client.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return tokenengine.ErrNameExists
		}
		return fmt.Errorf("creating EngineToken: %w", err)
	}
	s.apply(obj)
	return nil
}

// Update implements tokenengine.Store with a resourceVersion precondition.
func (s *Store) Update(old, r *tokenengine.Record) error {
	s.mu.RLock()
	cur := s.byName[old.Name]
	s.mu.RUnlock()
	switch {
	case cur == nil:
		return tokenengine.ErrNotFound
	case cur.rec != old:
		return tokenengine.ErrConflict
	}
	obj := toObject(r, s.cfg.Namespace)
	obj.UID, obj.ResourceVersion = cur.uid, cur.rv
	ctx, cancel := s.writeCtx()
	defer cancel()
	if err := s.client.Update(ctx, obj); err != nil {
		switch {
		case apierrors.IsConflict(err):
			return tokenengine.ErrConflict
		case apierrors.IsNotFound(err):
			return tokenengine.ErrNotFound
		}
		return fmt.Errorf("updating EngineToken: %w", err)
	}
	s.apply(obj)
	return nil
}

// Delete implements tokenengine.Store: each object is deleted with a UID precondition, so that a
// token re-created under the same name by another replica is not taken with it.
func (s *Store) Delete(rs ...*tokenengine.Record) error {
	for _, r := range rs {
		s.mu.RLock()
		cur := s.byName[r.Name]
		s.mu.RUnlock()
		if cur == nil || cur.rec != r {
			continue
		}
		ctx, cancel := s.writeCtx()
		obj := &storev1.EngineToken{ObjectMeta: metav1.ObjectMeta{Name: ObjectName(r.Name), Namespace: s.cfg.Namespace}}
		err := s.client.Delete(ctx, obj, client.Preconditions{UID: &cur.uid})
		cancel()
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting EngineToken: %w", err)
		}
		s.mu.Lock()
		if err == nil {
			s.deleted[cur.uid] = struct{}{}
		}
		s.dropLocked(r.Name, cur.uid)
		s.mu.Unlock()
	}
	return nil
}

// DeleteName implements tokenengine.Store: the object named for the token is deleted whatever
// its UID, because this replica's index may not have seen it yet.
func (s *Store) DeleteName(name string) error {
	ctx, cancel := s.writeCtx()
	defer cancel()
	key := client.ObjectKey{Namespace: s.cfg.Namespace, Name: ObjectName(name)}
	for range 3 {
		// The UID is read first so that the deletion can be remembered until the watch confirms
		// it; a conflict means the token was re-created in between, and that one goes too.
		obj := &storev1.EngineToken{}
		if err := s.client.Get(ctx, key, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return tokenengine.ErrNotFound
			}
			return fmt.Errorf("reading EngineToken: %w", err)
		}
		err := s.client.Delete(ctx, obj, client.Preconditions{UID: &obj.UID})
		switch {
		case apierrors.IsConflict(err):
			continue
		case apierrors.IsNotFound(err):
			return tokenengine.ErrNotFound
		case err != nil:
			return fmt.Errorf("deleting EngineToken: %w", err)
		}
		s.mu.Lock()
		s.deleted[obj.UID] = struct{}{}
		s.dropLocked(name, obj.UID)
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("deleting EngineToken %s: %w", key.Name, tokenengine.ErrConflict)
}

// PutRaw creates or replaces records as they are, ids included: for migrations.
func (s *Store) PutRaw(ctx context.Context, r *tokenengine.Record) (created bool, err error) {
	obj := toObject(r, s.cfg.Namespace)
	err = s.client.Create(ctx, obj)
	if err == nil {
		s.apply(obj)
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	cur := &storev1.EngineToken{}
	if err := s.client.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
		return false, err
	}
	obj.UID, obj.ResourceVersion = cur.UID, cur.ResourceVersion
	if err := s.client.Update(ctx, obj); err != nil {
		return false, err
	}
	s.apply(obj)
	return false, nil
}

// ByDigest implements tokenengine.Store.
func (s *Store) ByDigest(d tokenengine.Digest) *tokenengine.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byDigest[d]
}

// ByName implements tokenengine.Store.
func (s *Store) ByName(name string) *tokenengine.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.byName[name]; e != nil {
		return e.rec
	}
	return nil
}

// List implements tokenengine.Store.
func (s *Store) List() []*tokenengine.Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*tokenengine.Record, 0, len(s.byName))
	for _, e := range s.byName {
		out = append(out, e.rec)
	}
	return out
}
