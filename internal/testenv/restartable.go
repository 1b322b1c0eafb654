package testenv

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Restartable is a control plane (with our CRDs) whose kube-apiserver a test can stop and start
// again on the same port and certificates while etcd keeps running: outages for the chaos and
// engine-replica tests.
type Restartable struct {
	Env *envtest.Environment
	Cfg *rest.Config
}

// StartRestartable starts a Restartable control plane, stopped at cleanup. The API server's
// certificates live in a fixed folder so a restarted one keeps its CA and port; a graceful
// shutdown can take longer than an outage is meant to last, so after 5 s it is SIGKILLed.
func StartRestartable(t testing.TB) *Restartable {
	t.Helper()
	env, err := New(true)
	if err != nil {
		t.Fatal(err)
	}
	env.ControlPlane.APIServer = &envtest.APIServer{Path: env.ControlPlane.APIServer.Path, CertDir: t.TempDir(), StopTimeout: 5 * time.Second}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return &Restartable{Env: env, Cfg: cfg}
}

// RestartAPIServer stops kube-apiserver, calls during while it is down, and starts it again.
func (r *Restartable) RestartAPIServer(t testing.TB, during func()) {
	t.Helper()
	as := r.Env.ControlPlane.APIServer
	if err := as.Stop(); err != nil && !strings.Contains(err.Error(), "timeout waiting for process") {
		t.Fatalf("stopping kube-apiserver: %v", err)
	}
	during()
	if err := as.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
}
