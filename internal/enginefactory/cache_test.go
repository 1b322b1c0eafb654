package enginefactory

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1 "k8s.io/api/core/v1"
)

func TestCacheReusesUntilSomethingChanges(t *testing.T) {
	ctx := context.Background()
	f := newFactory(secret(managerNS, "admin", map[string]string{"token": secretToken}))
	kube := f.Reader.(client.Client)
	c := NewCache(f)
	obj := clusterEngine()

	first, err := c.Refresh(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Refresh(ctx, obj); again != first {
		t.Error("Refresh rebuilt a client although nothing changed")
	}
	if got, _ := c.Get(ctx, obj); got != first {
		t.Error("Get did not reuse the cached client")
	}

	// A new generation invalidates the entry.
	obj.Generation = 2
	second, err := c.Get(ctx, obj)
	if err != nil || second == first {
		t.Fatalf("Get after a generation change reused the old client (err %v)", err)
	}

	// A Secret change is seen by Refresh (the engine reconciler); Get then serves the new client.
	sec := rotateAdminToken(ctx, t, kube)
	if got, _ := c.Get(ctx, obj); got != second {
		t.Error("Get read the Secret; it must serve the cached client until Refresh")
	}
	third, err := c.Refresh(ctx, obj)
	if err != nil || third == second || third.SecretVersion == second.SecretVersion {
		t.Fatalf("Refresh after a Secret change kept the old client (err %v)", err)
	}
	if got, _ := c.Get(ctx, obj); got != third {
		t.Error("Get did not serve the refreshed client")
	}

	// A failed refresh drops the entry, so stale credentials are not served.
	if err := kube.Delete(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, obj); err == nil {
		t.Fatal("Refresh succeeded without a Secret")
	}
	if _, err := c.Get(ctx, obj); err == nil {
		t.Error("Get served a client after its Secret was deleted")
	}

	// Another UID under the same name is another engine.
	c2 := NewCache(newFactory(secret(managerNS, "admin", map[string]string{"token": secretToken})))
	a, _ := c2.Get(ctx, clusterEngine())
	recreated := clusterEngine()
	recreated.UID = "uid-other"
	if b, _ := c2.Get(ctx, recreated); b == a {
		t.Error("a recreated engine reused its predecessor's client")
	}
}

// countingReader counts the Secret reads that fetch data (a build) apart from metadata-only ones.
type countingReader struct {
	client.Reader
	full, meta int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch obj.(type) {
	case *corev1.Secret:
		r.full++
	case *metav1.PartialObjectMetadata:
		r.meta++
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// Issue 14 item 2: Refresh compares versions before building anything. An unchanged engine costs
// one metadata-only read of its Secret and no build; a changed Secret is read in full once.
func TestCacheRefreshComparesBeforeBuilding(t *testing.T) {
	ctx := context.Background()
	f := newFactory(secret(managerNS, "admin", map[string]string{"token": secretToken}))
	kube := f.Reader.(client.Client)
	counter := &countingReader{Reader: kube}
	f.Reader = counter
	c := NewCache(f)
	obj := clusterEngine()
	first, err := c.Refresh(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	counter.full, counter.meta = 0, 0
	for range 3 {
		if again, err := c.Refresh(ctx, obj); err != nil || again != first {
			t.Fatalf("Refresh of an unchanged engine = %p, %v; want the cached client", again, err)
		}
	}
	if counter.full != 0 || counter.meta != 3 {
		t.Errorf("3 refreshes of an unchanged engine read the Secret in full %d times and as metadata %d times, want 0 and 3", counter.full, counter.meta)
	}
	rotateAdminToken(ctx, t, kube)
	counter.full = 0
	if rebuilt, err := c.Refresh(ctx, obj); err != nil || rebuilt == first {
		t.Fatalf("Refresh after a Secret change = %p, %v; want a new client", rebuilt, err)
	}
	if counter.full != 1 {
		t.Errorf("a changed Secret was read in full %d times, want 1", counter.full)
	}
}

// rotateAdminToken replaces the token in the admin Secret, as an admin rotating it would, and
// returns the Secret.
func rotateAdminToken(ctx context.Context, t *testing.T, kube client.Client) *corev1.Secret {
	t.Helper()
	sec := &corev1.Secret{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: managerNS, Name: "admin"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data["token"] = []byte("apiv3_rotated")
	if err := kube.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	return sec
}
