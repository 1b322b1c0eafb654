package kubestore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/kubestore"
	"github.com/tokenops/token-operator/internal/tokenengine/storetest"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }

// TestKubernetesStoreContract runs the store contract on a real kube-apiserver: every case in a
// namespace of its own, peers as second stores over the same namespace.
func TestKubernetesStoreContract(t *testing.T) {
	cfg, _ := testenv.Start(t, true)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	namespaces := map[tokenengine.Store]string{}
	openIn := func(t *testing.T, ns string) tokenengine.Store {
		s, err := kubestore.New(t.Context(), kubestore.Config{RestConfig: cfg, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		namespaces[s] = ns
		return s
	}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) tokenengine.Store {
			ns := fmt.Sprintf("store-%d", n.Add(1))
			if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
			return openIn(t, ns)
		},
		Peer: func(t *testing.T, s tokenengine.Store) tokenengine.Store { return openIn(t, namespaces[s]) },
		Reopen: func(t *testing.T, s tokenengine.Store) tokenengine.Store {
			_ = s.Close()
			return openIn(t, namespaces[s])
		},
	})
}
