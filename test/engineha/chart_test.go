//go:build linux

package engineha

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

// TestChartRunsThreeReplicasWithTLS installs the chart with engine.store=kubernetes on the real
// API server (helm installs crds/, the EngineToken CRD included), checks what it created, then
// runs what the kubelet would (no kubelet here): three engine processes with the Deployment's
// args, the chart's TLS Secret and admin Secret, as the engine's ServiceAccount, so only the
// chart's Role authorizes them; a client that trusts only the ClusterTokenEngine's CA bundle mints
// on one and authorizes on the others. Then `helm upgrade --set engine.tls.renewCertificate=true`
// re-signs the serving certificate with the kept CA; written where the pods read it, it is served
// without a restart while an authorize loop keeps running without an error.
func TestChartRunsThreeReplicasWithTLS(t *testing.T) {
	helm := testenv.Helm(t)
	bin := testenv.OperatorBinary(t)
	env, cfg, kcPath := testenv.StartEnv(t, false)
	k8s := testenv.Client(t, cfg)
	ctx := context.Background()
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: engineNamespace}}))
	home := t.TempDir()
	helmRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(helm, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath, "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm %v: %v\n%s", args, err, out)
		}
	}
	chart := filepath.Join(testenv.RepoRoot(), "charts", "token-operator")
	helmRun("install", "token-operator", chart, "-n", engineNamespace, "--set", "engine.store=kubernetes")

	var (
		dep  appsv1.Deployment
		tlsS corev1.Secret
		adm  corev1.Secret
		cte  tokensv1.ClusterTokenEngine
		role rbacv1.Role
	)
	key := func(n string) client.ObjectKey { return client.ObjectKey{Namespace: engineNamespace, Name: n} }
	must(t, k8s.Get(ctx, key("token-engine"), &dep))
	must(t, k8s.Get(ctx, key("token-engine-tls"), &tlsS))
	must(t, k8s.Get(ctx, key("token-engine-admin"), &adm))
	must(t, k8s.Get(ctx, key("token-engine"), &role))
	must(t, k8s.Get(ctx, key("token-engine"), &policyv1.PodDisruptionBudget{}))
	must(t, k8s.Get(ctx, key("token-engine"), &networkingv1.NetworkPolicy{}))
	must(t, k8s.Get(ctx, client.ObjectKey{Name: "default"}, &cte))
	if r := dep.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("Deployment replicas %v, want 3", r)
	}
	if len(dep.Spec.Template.Spec.TopologySpreadConstraints) == 0 {
		t.Error("the Deployment has no topology spread")
	}
	if !slices.EqualFunc(role.Rules, EngineRules, func(a, b rbacv1.PolicyRule) bool {
		return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) && slices.Equal(a.Verbs, b.Verbs)
	}) {
		t.Errorf("the chart's engine Role %v differs from the rules test/engineha runs with %v", role.Rules, EngineRules)
	}
	ie := cte.Spec.InfluxDB3
	if ie == nil || ie.URL != "https://token-engine.token-operator.svc:8181" || ie.TLS == nil ||
		strings.TrimSpace(ie.TLS.CABundle) != strings.TrimSpace(string(tlsS.Data["ca.crt"])) {
		t.Fatalf("ClusterTokenEngine %+v: want the https Service URL and the TLS Secret's ca.crt as CA bundle", ie)
	}

	// The pods' files, written where the processes read them.
	dir := t.TempDir()
	files := map[string][]byte{"admin-token.json": adm.Data["admin-token.json"], "tls.crt": tlsS.Data["tls.crt"], "tls.key": tlsS.Data["tls.key"]}
	for n, b := range files {
		must(t, os.WriteFile(filepath.Join(dir, n), b, 0o600))
	}
	sa, err := env.AddUser(envtest.User{Name: "system:serviceaccount:" + engineNamespace + ":token-engine",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + engineNamespace, "system:authenticated"}}, nil)
	must(t, err)
	saKC, err := sa.KubeConfig()
	must(t, err)
	saPath := filepath.Join(dir, "sa.kubeconfig")
	must(t, os.WriteFile(saPath, saKC, 0o600))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ie.TLS.CABundle))
	h := &ha{t: t, admin: string(adm.Data["token"]), bin: bin,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "token-engine.token-operator.svc"}}}}
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		a = strings.ReplaceAll(a, "/etc/token-engine-tls/", dir+"/")
		a = strings.ReplaceAll(a, "/etc/token-engine/", dir+"/")
		args = append(args, a)
	}
	h.args = append(args, "--kubeconfig", saPath, "--namespace", engineNamespace) // POD_NAMESPACE and the pod's token in a pod
	for i := range 3 {
		h.replicas = append(h.replicas, h.start(fmt.Sprintf("pod-%d", i)))
	}
	for _, r := range h.replicas {
		h.waitReady(r, 60*time.Second)
	}
	tok, err := h.mint(h.replicas[0], "chart")
	must(t, err)
	h.timeUntil(t, h.others(h.replicas[0]), tok, http.StatusNoContent)

	// Rotation: an authorize loop over new connections runs across it and must not fail once.
	var calls, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stopped(stop) {
			h.client.Transport.(*http.Transport).CloseIdleConnections() // every call a new handshake
			calls.Add(1)
			if code := h.authorize(h.replicas[int(calls.Load())%3], tok); code != http.StatusNoContent {
				failures.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	oldCert := tlsS.Data["tls.crt"]
	helmRun("upgrade", "token-operator", chart, "-n", engineNamespace, "--reuse-values", "--set", "engine.tls.renewCertificate=true")
	must(t, k8s.Get(ctx, key("token-engine-tls"), &tlsS))
	if bytes.Equal(tlsS.Data["tls.crt"], oldCert) || !bytes.Equal(bytes.TrimSpace(tlsS.Data["ca.crt"]), []byte(strings.TrimSpace(ie.TLS.CABundle))) {
		t.Fatal("renewCertificate must re-sign the serving certificate and keep the CA")
	}
	for _, n := range []string{"tls.crt", "tls.key"} { // what the kubelet does: swap the files
		must(t, os.WriteFile(filepath.Join(dir, n+".new"), tlsS.Data[n], 0o600))
		must(t, os.Rename(filepath.Join(dir, n+".new"), filepath.Join(dir, n)))
	}
	served := func(r *replica) []byte {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(r.url, "https://"), &tls.Config{RootCAs: pool, ServerName: "token-engine.token-operator.svc"})
		if err != nil {
			return nil
		}
		defer func() { _ = conn.Close() }()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	deadline := time.Now().Add(tokenengine.CertCheckInterval + 10*time.Second)
	for _, r := range h.replicas {
		for !bytes.Equal(pemDER(tlsS.Data["tls.crt"]), served(r)) {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still serves the old certificate %s after the files changed", r.name, tokenengine.CertCheckInterval+10*time.Second)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("rotation: %d authorize calls on new connections across it, %d failed", calls.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d authorize calls failed during the certificate rotation", failures.Load())
	}
}

// pemDER returns the DER of the first PEM block.
func pemDER(b []byte) []byte {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil
	}
	return blk.Bytes
}
