package enginefactory

import (
	"context"
	"testing"

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
	sec := &corev1.Secret{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: managerNS, Name: "admin"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data["token"] = []byte("apiv3_rotated")
	if err := kube.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
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
