package lifecycle

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// perResource is what this process remembers about each live token resource, in memory only (a
// restart loses it, which costs at most a check repeated once). It is keyed by name, with the
// resource's UID kept and checked, because a pass learns that a resource is gone only by its
// name (Reconcile's NotFound): forgetting by name then keeps the memory bounded by live resources
// even for one deleted without its finalizer running (taken off by hand). A resource created
// again under the name has another UID and does not inherit the entry.
type perResource[V comparable] struct {
	m sync.Map // types.NamespacedName → remembered[V]
}

type remembered[V comparable] struct {
	uid types.UID
	v   V
}

func (p *perResource[V]) load(obj client.Object) (V, bool) {
	if e, ok := p.m.Load(client.ObjectKeyFromObject(obj)); ok && e.(remembered[V]).uid == obj.GetUID() {
		return e.(remembered[V]).v, true
	}
	var zero V
	return zero, false
}

func (p *perResource[V]) store(obj client.Object, v V) {
	p.m.Store(client.ObjectKeyFromObject(obj), remembered[V]{uid: obj.GetUID(), v: v})
}

// forgetIf forgets obj's entry if it still holds v: another worker's pass may have replaced it.
func (p *perResource[V]) forgetIf(obj client.Object, v V) {
	p.m.CompareAndDelete(client.ObjectKeyFromObject(obj), remembered[V]{uid: obj.GetUID(), v: v})
}

// forget drops whatever is remembered under the name, of any UID.
func (p *perResource[V]) forget(name types.NamespacedName) { p.m.Delete(name) }
