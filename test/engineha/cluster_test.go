//go:build linux

// Package engineha runs the token engine as three real replicas (`token-operator engine
// --store=kubernetes`, over TLS) on one real kube-apiserver, and checks what the issue asks of
// them (docs/token-engine.md, "Replicas"): a mint or revoke on one replica is seen by the others
// within 1 s at p99, a SIGKILLed replica never makes another give a wrong answer, and replicas
// fail closed while their watch is down and recover when the API server returns.
package engineha

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }

// engineNamespace holds the EngineTokens, as the chart's release namespace does.
const engineNamespace = "token-operator"

// maxWatchGap is the replicas' --store-max-watch-gap: short, so that the API server test fails
// closed quickly.
const maxWatchGap = 2 * time.Second

// proc is a replica or manager process (testenv.Proc: dies with the test binary, SIGKILLed at
// cleanup) and its output.
type proc struct {
	*testenv.Proc
	log *testenv.Buffer
}

func startProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{log: &testenv.Buffer{}}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	p.Proc = testenv.StartProc(t, cmd, nil)
	return p
}

// replica is one engine process.
type replica struct {
	name string
	url  string
	proc *proc
}

// ha is the system under test.
type ha struct {
	t        testing.TB
	env      *envtest.Environment
	k8s      client.Client
	admin    string
	caPEM    []byte
	client   *http.Client
	replicas []*replica
	// args start one more replica (its --listen is appended).
	args []string
	bin  string
	cfg  *rest.Config
}

// newHA starts the control plane (fixed certificates, so that a restarted kube-apiserver keeps
// its CA and port), a namespace, an engine user limited to EngineTokens there by the same rules
// as the chart's engine Role, a CA and serving certificate, and n replicas.
func newHA(t testing.TB, n int) *ha {
	t.Helper()
	bin := testenv.OperatorBinary(t)
	cp := testenv.StartRestartable(t)
	env, cfg := cp.Env, cp.Cfg
	h := &ha{t: t, env: env, k8s: testenv.Client(t, cfg), bin: bin, cfg: cfg}
	ctx := context.Background()
	must(t, h.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: engineNamespace}}))
	must(t, h.k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "token-engine", Namespace: engineNamespace}, Rules: EngineRules}))
	must(t, h.k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "token-engine", Namespace: engineNamespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "token-engine"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "token-engine", APIGroup: "rbac.authorization.k8s.io"}}}))
	user, err := env.AddUser(envtest.User{Name: "token-engine"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "engine.kubeconfig")
	must(t, os.WriteFile(kcPath, kc, 0o600))
	h.admin = tokenenginetest.NewTokenString(t)
	adminFile := filepath.Join(dir, "admin.json")
	must(t, os.WriteFile(adminFile, fmt.Appendf(nil, `{"token":%q}`, h.admin), 0o600))
	var certFile, keyFile string
	h.caPEM, certFile, keyFile = writeCA(t, dir)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.caPEM)
	h.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	h.args = []string{"engine", "--store=kubernetes", "--namespace", engineNamespace, "--kubeconfig", kcPath,
		"--admin-token-file", adminFile, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--log-format", "text",
		"--store-max-watch-gap", maxWatchGap.String()}
	for i := range n {
		h.replicas = append(h.replicas, h.start(fmt.Sprintf("r%d", i)))
	}
	for _, r := range h.replicas {
		h.waitReady(r, 60*time.Second)
	}
	return h
}

// EngineRules are the rules of the chart's engine Role (charts/token-operator/templates/
// engine-rbac.yaml): EngineTokens in the engine's namespace, nothing else.
var EngineRules = []rbacv1.PolicyRule{{APIGroups: []string{"store.tokenops.dev"}, Resources: []string{"enginetokens"},
	Verbs: []string{"get", "list", "watch", "create", "update", "delete"}}}

// start runs one replica on a free loopback port.
func (h *ha) start(name string) *replica {
	addr := testenv.FreeAddr(h.t)
	r := &replica{name: name, url: "https://" + addr}
	r.proc = startProc(h.t, h.bin, append(slices.Clone(h.args), "--listen", addr)...)
	return r
}

// waitReady waits for /readyz 200.
func (h *ha) waitReady(r *replica, d time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if code, _ := h.get(r, tokenengine.PathReadyz, ""); code == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("replica %s was not ready within %s; its log:\n%s", r.name, d, r.proc.log.String())
}

// get sends GET path with an optional bearer token; code 0 means no answer.
func (h *ha) get(r *replica, path, token string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, r.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// authorize asks r whether token may read database "db1": 204, 401, 403 or 503 (0: no answer).
func (h *ha) authorize(r *replica, token string) int {
	code, _ := h.get(r, tokenengine.PathAuthorize+"?db=db1&action=read", token)
	return code
}

// mint creates a read token on db1 through r.
func (h *ha) mint(r *replica, name string) (string, error) {
	body := fmt.Sprintf(`{"token_name":%q,"permissions":[{"resource_type":"db","resource_names":["db1"],"actions":["read"]}]}`, name)
	req, _ := http.NewRequest(http.MethodPost, r.url+tokenengine.PathResourceToken, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("mint %s on %s: %d", name, r.name, resp.StatusCode)
	}
	var o tokenengine.TokenObject
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		return "", err
	}
	return o.Token, nil
}

// revoke deletes the token called name through r.
func (h *ha) revoke(r *replica, name string) error {
	req, _ := http.NewRequest(http.MethodDelete, r.url+tokenengine.PathDeleteToken+"?token_name="+url.QueryEscape(name), nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke %s on %s: %d", name, r.name, resp.StatusCode)
	}
	return nil
}

// restartAPIServer stops kube-apiserver (etcd keeps running), calls during while it is down,
// and starts it again on the same port and certificates.
func (h *ha) restartAPIServer(during func()) {
	h.t.Helper()
	(&testenv.Restartable{Env: h.env}).RestartAPIServer(h.t, during)
}

// writeCA writes a CA and a serving certificate for 127.0.0.1 signed by it, as the chart does.
func writeCA(t testing.TB, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "token-engine-ca"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "token-engine"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return caPEM, certFile, keyFile
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// quantile returns the q-quantile (nearest rank) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
