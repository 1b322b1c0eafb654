package testenv

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tokenops/token-operator/internal/scheme"
)

// Buffer is a bytes.Buffer safe for concurrent writers: a log sink for servers, managers and
// child processes whose output tests scan.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines is a list of strings safe for concurrent writers: what several goroutines record.
type Lines struct {
	mu   sync.Mutex
	list []string
}

// Add appends s.
func (l *Lines) Add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, s)
}

// All returns a copy of the list.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.list...)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// Start starts the real control plane for one test (stopped at cleanup), with our CRDs when
// withCRDs is true, and writes a cluster-admin kubeconfig for processes such as kubectl, helm
// and token-operator; it returns the test's rest config and the kubeconfig's path.
func Start(t testing.TB, withCRDs bool) (*rest.Config, string) {
	t.Helper()
	_, cfg, path := StartEnv(t, withCRDs)
	return cfg, path
}

// StartEnv is Start that also returns the environment, for tests that add users to it.
func StartEnv(t testing.TB, withCRDs bool) (*envtest.Environment, *rest.Config, string) {
	t.Helper()
	env, err := New(withCRDs)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kc, err := AdminKubeconfig(env)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return env, cfg, path
}

// RunKubectl runs the kubectl built by `make control-plane` against kubeconfig, from the
// repository root (so relative paths such as config/default work), with stdin as its input. It
// fails the test when kubectl fails and returns the combined output.
func RunKubectl(t testing.TB, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	bin, err := Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Dir = RepoRoot()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Client returns a client for cfg that knows the Kubernetes types and ours.
func Client(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Helm is $HELM (the Makefile exports the helm it installs with `make helm`), else that
// same file in bin/. Outside make, a missing helm skips the test with the command that installs it.
func Helm(t testing.TB) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		if _, err := os.Stat(h); err != nil {
			t.Fatalf("HELM=%s: %v", h, err)
		}
		return h
	}
	mk, err := os.ReadFile(filepath.Join(RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^HELM_VERSION \?= (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no HELM_VERSION")
	}
	h := filepath.Join(RepoRoot(), "bin", "helm-"+string(m[1]))
	if _, err := os.Stat(h); err != nil {
		t.Skipf("helm not installed: run `make helm` (or the tests with `make test`, which installs it): %v", err)
	}
	return h
}
