package enginefactory

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/metrics"
)

// Key identifies an engine resource: Namespace is empty for a ClusterTokenEngine.
type Key struct {
	Kind      tokensv1.EngineKind
	Namespace string
	Name      string
}

// KeyOf returns obj's Key.
func KeyOf(obj tokensv1.GenericEngine) Key {
	return Key{Kind: obj.EngineKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

type entry struct {
	uid        types.UID
	generation int64
	built      *Built
}

// Cache keeps one built client per engine resource so that token reconciles reuse its HTTP
// connections instead of building a client (and reading a Secret) each time. An entry is valid
// for one engine UID, generation and credentials Secret resourceVersion. It is safe for
// concurrent use.
type Cache struct {
	Factory *Factory

	mu      sync.Mutex
	entries map[Key]entry
}

// NewCache returns an empty Cache over f.
func NewCache(f *Factory) *Cache { return &Cache{Factory: f, entries: map[Key]entry{}} }

// Refresh returns the cached client when neither obj's generation nor its credentials Secret
// changed, else builds and caches a new one. The engine reconciler calls it on every check: the
// Secret's resourceVersion is read first (metadata only), so an unchanged engine costs one small
// read and builds nothing. On error the entry is dropped, so stale credentials are not reused.
func (c *Cache) Refresh(ctx context.Context, obj tokensv1.GenericEngine) (*Built, error) {
	key := KeyOf(obj)
	if version, err := c.Factory.SecretVersion(ctx, obj); err == nil {
		if old := c.lookup(key, obj, version); old != nil {
			return old, nil
		}
	} // else Build reads the Secret again and says what is wrong with it
	b, err := c.Factory.Build(ctx, obj)
	if err != nil {
		c.Forget(key)
		return nil, err
	}
	c.store(key, obj, b)
	return b, nil
}

// Get returns the cached client for obj's current UID and generation without reading the Secret
// (the token reconcilers' hot path), building one on a miss, e.g. right after a restart.
func (c *Cache) Get(ctx context.Context, obj tokensv1.GenericEngine) (*Built, error) {
	if b := c.lookup(KeyOf(obj), obj, ""); b != nil {
		return b, nil
	}
	return c.Refresh(ctx, obj)
}

// Forget drops the client of an engine resource, e.g. when it is deleted.
func (c *Cache) Forget(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// lookup returns the entry for obj's UID and generation; a non-empty version must match too.
func (c *Cache) lookup(key Key, obj tokensv1.GenericEngine, version string) *Built {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.uid != obj.GetUID() || e.generation != obj.GetGeneration() {
		return nil
	}
	if version != "" && e.built.SecretVersion != version {
		return nil
	}
	return e.built
}

// store keeps b, first instrumenting its client: wrapping here, once per cached client, means
// every call through the cache is counted and timed, and building is not made dearer.
func (c *Cache) store(key Key, obj tokensv1.GenericEngine, b *Built) {
	b.Engine = metrics.Wrap(b.Engine, string(key.Kind), toolscache.NewObjectName(key.Namespace, key.Name).String(), b.Type)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = entry{uid: obj.GetUID(), generation: obj.GetGeneration(), built: b}
}
