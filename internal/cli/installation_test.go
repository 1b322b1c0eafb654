package cli_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// The namespaces of the installation the manager process tests run: the operator's and an app's.
const opNS, appNS = "tokens-system", "monitoring"

// installation is what a user has before starting the manager: a control plane with our CRDs,
// a token engine, its admin token in a Secret in the operator's namespace, and the default
// ClusterTokenEngine pointing at it; plus the built binary.
type installation struct {
	bin, kubeconfig string
	k8s             client.Client
	engine          *tokenenginetest.Instance
	cte             *tokensv1.ClusterTokenEngine
}

func newInstallation(t *testing.T) *installation {
	t.Helper()
	cfg, kubeconfig := testenv.Start(t, true)
	in := &installation{kubeconfig: kubeconfig, k8s: testenv.Client(t, cfg), engine: tokenenginetest.Start(t)}
	var err error
	if in.bin, err = testenv.BuildOperator(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{opNS, appNS} {
		create(t, in.k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	create(t, in.k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "token-engine-admin"},
		Data: map[string][]byte{"token": []byte(in.engine.AdminToken)}})
	in.cte = &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Annotations: map[string]string{tokensv1.DefaultEngineAnnotation: "true"}},
		Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: tokensv1.EngineURL(in.engine.URL), AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "token-engine-admin"},
		}}, AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{appNS}}},
	}
	create(t, in.k8s, in.cte)
	return in
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// managerProcess is a `token-operator manager` process of an installation.
type managerProcess struct {
	probeAddr, metricsAddr string
	cmd                    *exec.Cmd
	logs                   testenv.Buffer
	exited                 chan error
}

// startManager runs the manager with --kubeconfig (KUBECONFIG points nowhere: the flag must win),
// free probe and metrics addresses and args; it is killed at cleanup, its output logged if the
// test failed.
func (in *installation) startManager(t *testing.T, args ...string) *managerProcess {
	t.Helper()
	m := &managerProcess{probeAddr: testenv.FreeAddr(t), metricsAddr: testenv.FreeAddr(t), exited: make(chan error, 1)}
	m.cmd = exec.Command(in.bin, append([]string{"manager", "--kubeconfig", in.kubeconfig, "--namespace", opNS,
		"--health-probe-bind-address", m.probeAddr, "--metrics-bind-address", m.metricsAddr}, args...)...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG=/nonexistent")
	m.cmd.Stdout, m.cmd.Stderr = &m.logs, &m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("manager output:\n%s", m.logs.String())
		}
	})
	return m
}

// stop sends SIGTERM and fails the test unless the manager exits cleanly within 30 s.
func (m *managerProcess) stop(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-m.exited:
		if err != nil {
			t.Fatalf("manager exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s of SIGTERM")
	}
}
