//go:build linux

package engineha

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
)

// balancer is a TCP round-robin in front of the replicas, standing in for the engine Service: a
// new connection goes to the next replica that accepts it.
type balancer struct {
	addr string
	h    *ha
	mu   sync.Mutex
	next int
}

func (h *ha) balancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	b := &balancer{addr: ln.Addr().String(), h: h}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *balancer) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	for range len(b.h.replicas) {
		b.mu.Lock()
		r := b.h.replicas[b.next%len(b.h.replicas)]
		b.next++
		b.mu.Unlock()
		up, err := net.DialTimeout("tcp", r.url[len("https://"):], time.Second)
		if err != nil {
			continue
		}
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		_, _ = io.Copy(c, up)
		return
	}
}

// TestOperatorLifecycleAgainstThreeReplicas runs the real manager against the three replicas
// behind a round-robin balancer over TLS (CA bundle in the ClusterTokenEngine): tokens become
// Ready and every replica accepts them; with one replica SIGKILLed more tokens still become Ready;
// deleting the resources revokes every token on every surviving replica.
func TestOperatorLifecycleAgainstThreeReplicas(t *testing.T) {
	h := newHA(t, 3)
	lb := h.balancer(t)
	kc, err := testenv.AdminKubeconfig(h.env)
	must(t, err)
	kcPath := t.TempDir() + "/admin.kubeconfig"
	must(t, writeFile(kcPath, kc))
	ctx := context.Background()
	const apps = "apps"
	must(t, h.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apps}}))
	must(t, h.k8s.Create(ctx, testutil.AdminSecret(engineNamespace, h.admin)))
	engine := testutil.DefaultEngine("https://"+lb.addr, engineNamespace, apps)
	engine.Spec.InfluxDB3.TLS = &tokensv1.TLSConfig{CABundle: string(h.caPEM)}
	must(t, h.k8s.Create(ctx, engine))
	mgr := startProc(t, h.bin, "manager", "--kubeconfig", kcPath, "--namespace", engineNamespace, "--leader-elect=false",
		"--metrics-bind-address", "0", "--health-probe-bind-address", testenv.FreeAddr(t))

	create := func(names ...string) map[string]string {
		for _, n := range names {
			tok := testutil.WithPermissions(testutil.DatabaseToken(n, testutil.InNamespace(apps)),
				tokensv1.DatabasePermission{Databases: []tokensv1.DatabaseName{"db1"}, Actions: []tokensv1.Action{tokensv1.ActionRead}})
			must(t, h.k8s.Create(ctx, tok))
		}
		return h.waitTokens(t, mgr, apps, names)
	}
	first := create("a", "b", "c")
	for n, tok := range first {
		for _, r := range h.replicas {
			if code := h.authorize(r, tok); code != http.StatusNoContent {
				t.Errorf("token of %s on replica %s: %d, want 204", n, r.name, code)
			}
		}
	}
	h.replicas[0].proc.Kill()
	live := h.replicas[1:]
	second := create("d", "e")
	for n, tok := range second {
		for _, r := range live {
			if code := h.authorize(r, tok); code != http.StatusNoContent {
				t.Errorf("token of %s (minted with r0 dead) on replica %s: %d, want 204", n, r.name, code)
			}
		}
	}
	all := map[string]string{}
	for _, m := range []map[string]string{first, second} {
		for n, tok := range m {
			all[n] = tok
			must(t, h.k8s.Delete(ctx, &tokensv1.DatabaseToken{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: apps}}))
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for n := range all {
		for {
			err := h.k8s.Get(ctx, client.ObjectKey{Namespace: apps, Name: n}, &tokensv1.DatabaseToken{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("DatabaseToken %s was not deleted within 60 s; manager log:\n%s", n, mgr.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The finalizer was removed after the revoke succeeded; every replica refuses within 1 s.
	for n, tok := range all {
		lat := h.timeUntil(t, live, tok, http.StatusUnauthorized)
		for i, d := range lat {
			if d > propagationBound {
				t.Errorf("revoked token of %s still accepted by %s %s after its resource was gone", n, live[i].name, d)
			}
		}
	}
}

// waitTokens waits until the named DatabaseTokens are Ready and returns their Secrets' tokens.
func (h *ha) waitTokens(t *testing.T, mgr *proc, ns string, names []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	deadline := time.Now().Add(90 * time.Second)
	for _, n := range names {
		for {
			tok := &tokensv1.DatabaseToken{}
			if err := h.k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: n}, tok); err == nil &&
				meta.IsStatusConditionTrue(tok.Status.Conditions, tokensv1.ConditionReady) && tok.Status.SecretName != "" {
				s := &corev1.Secret{}
				must(t, h.k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: tok.Status.SecretName}, s))
				out[n] = string(s.Data["token"])
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("DatabaseToken %s/%s not Ready within 90 s; manager log:\n%s", ns, n, mgr.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
