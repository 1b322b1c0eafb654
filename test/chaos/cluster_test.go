//go:build linux

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// operatorNamespace holds the engine's admin Secret and the leader lease.
const operatorNamespace = "token-operator"

// namespaces are where the chaos tokens live; the engine allows exactly these.
var namespaces = []string{"chaos-a", "chaos-b", "chaos-c"}

func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }

// proc is a manager or engine process (testenv.Proc: dies with the test binary, SIGKILLed at
// cleanup).
type proc = testenv.Proc

// startProc starts bin with args, its output appended to logPath.
func startProc(t *testing.T, name, logPath, bin string, args ...string) *proc {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(out, "=== %s started at %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	return testenv.StartProc(t, cmd, func() { _ = out.Close() })
}

// cluster is the system under test: kube-apiserver + etcd (envtest), `token-operator engine`
// and any number of `token-operator manager` processes, all real.
type cluster struct {
	t          *testing.T
	bin        string
	env        *envtest.Environment
	k8s        client.Client
	kubeconfig string
	logDir     string

	admin      string
	adminFile  string
	engineAddr string
	engineURL  string
	engineDir  string
	engineProc *proc
	eng        engine.Engine

	mu       sync.Mutex
	managers int
}

// newCluster starts the control plane (with a fixed certificate folder, so that a restarted
// kube-apiserver keeps its serving CA and port), the engine and the ClusterTokenEngine that
// serves the chaos namespaces.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin := testenv.OperatorBinary(t)
	cp := testenv.StartRestartable(t)
	env, cfg := cp.Env, cp.Cfg
	kc, err := testenv.AdminKubeconfig(env)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv("CHAOS_LOG_DIR"); keep != "" { // keep the processes' logs and state
		dir = filepath.Join(keep, fmt.Sprintf("%s-%d", t.Name(), time.Now().Unix()))
		must(t, os.MkdirAll(dir, 0o700))
		t.Logf("logs in %s", dir)
	}
	c := &cluster{t: t, bin: bin, env: env, kubeconfig: filepath.Join(dir, "kubeconfig"), logDir: dir}
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.k8s = testenv.Client(t, cfg)

	c.admin = tokenenginetest.NewTokenString(t)
	c.adminFile = filepath.Join(dir, "admin.json")
	if err := os.WriteFile(c.adminFile, []byte(fmt.Sprintf(`{"token":%q}`, c.admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.engineAddr = testenv.FreeAddr(t)
	c.engineURL = "http://" + c.engineAddr
	c.engineDir = filepath.Join(dir, "engine")
	c.startEngine()
	c.eng, err = influxdb3.New(httpapi.Config{URL: c.engineURL}, engine.Plaintext(c.admin))
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	for _, ns := range append([]string{operatorNamespace}, namespaces...) {
		must(t, c.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	must(t, c.k8s.Create(ctx, testutil.AdminSecret(operatorNamespace, c.admin)))
	engine := testutil.DefaultEngine(c.engineURL, operatorNamespace, namespaces...)
	// Report, never Revoke: the sweep must not clean up the leaks this test looks for.
	engine.Spec.OrphanSweep = tokensv1.OrphanSweepReport
	must(t, c.k8s.Create(ctx, engine))
	return c
}

// startEngine runs `token-operator engine` on the cluster's address and data folder and waits
// until it answers /livez.
func (c *cluster) startEngine() {
	c.t.Helper()
	c.engineProc = startProc(c.t, "engine", filepath.Join(c.logDir, "engine.log"), c.bin, "engine",
		"--listen", c.engineAddr, "--data-dir", c.engineDir, "--admin-token-file", c.adminFile)
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if resp, err := hc.Get(c.engineURL + "/livez"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("the engine at %s did not answer /livez within 30s", c.engineURL)
}

// restartEngine SIGKILLs the engine, waits down, and starts it again on the same data.
func (c *cluster) restartEngine(down time.Duration) {
	c.engineProc.Kill()
	time.Sleep(down)
	c.startEngine()
}

// startManager runs one `token-operator manager`; its log is manager-<n>.log in the log folder.
func (c *cluster) startManager(leaderElect bool) *proc {
	c.t.Helper()
	c.mu.Lock()
	c.managers++
	n := c.managers
	c.mu.Unlock()
	return startProc(c.t, fmt.Sprintf("manager-%d", n), filepath.Join(c.logDir, fmt.Sprintf("manager-%d.log", n)), c.bin, "manager",
		"--kubeconfig", c.kubeconfig, "--namespace", operatorNamespace, fmt.Sprintf("--leader-elect=%t", leaderElect),
		"--metrics-bind-address", "0", "--health-probe-bind-address", testenv.FreeAddr(c.t))
}

// restartAPIServer stops kube-apiserver (etcd keeps running), waits down and starts it again on
// the same port and certificates.
func (c *cluster) restartAPIServer(down time.Duration) {
	c.t.Helper()
	(&testenv.Restartable{Env: c.env}).RestartAPIServer(c.t, func() { time.Sleep(down) })
}

// managerLogLines returns the lines of every manager log that mention one of names, at most max.
func (c *cluster) managerLogLines(names []string, max int) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(c.logDir, "manager-*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, n := range names {
				if strings.Contains(line, n) {
					out = append(out, filepath.Base(f)+": "+line)
					break
				}
			}
			if len(out) >= max {
				return out
			}
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// retry runs f until it succeeds or d has passed (the API server may be restarting).
func retry(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
