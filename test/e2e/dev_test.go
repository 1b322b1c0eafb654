package e2e

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }

// devProcess is a running `token-operator dev`.
type devProcess struct {
	cmd        *exec.Cmd
	out        *testenv.Buffer
	kubeconfig string
	engineURL  string
	exited     chan error
}

var engineLine = regexp.MustCompile(`Token engine: (http://\S+)`)

// startDev runs `token-operator dev` on state and waits until it prints its instructions.
func startDev(t *testing.T, bin, state string) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--state-dir", state, "--engine-address", "127.0.0.1:0", "--metrics-bind-address", "0")
	out := &testenv.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(out, pw), out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devProcess{cmd: cmd, out: out, kubeconfig: filepath.Join(state, "kubeconfig"), exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait(); _ = pw.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = io.Copy(io.Discard, pr) })

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := engineLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case d.engineURL = <-found:
	case err := <-d.exited:
		t.Fatalf("token-operator dev exited early (%v):\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("token-operator dev did not get ready within 3 minutes:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "export KUBECONFIG="+d.kubeconfig) {
		t.Errorf("dev did not print the export KUBECONFIG line:\n%s", out.String())
	}
	return d
}

// interrupt stops dev as Ctrl-C does and requires a clean exit.
func (d *devProcess) interrupt(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("dev exited with %v after Ctrl-C, want status 0:\n%s", err, d.out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop within 60s of Ctrl-C")
	}
}

// kubectl runs the kubectl built by `make control-plane` against dev's API server.
func (d *devProcess) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return testenv.RunKubectl(t, d.kubeconfig, "", args...)
}

// secretToken reads a Secret's token key.
func (d *devProcess) secretToken(t *testing.T, ns, name string) string {
	t.Helper()
	b64 := d.kubectl(t, "get", "secret", name, "-n", ns, "-o", "jsonpath={.data.token}")
	tok, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

func engineGet(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// The README's dev loop, end to end with real processes: `token-operator dev`, then
// `kubectl apply -f config/samples/` gives Ready tokens whose Secrets hold working tokens; a
// 10-second token is revoked on time; Ctrl-C and a restart on the same state keep every token
// and Secret; `kubectl delete` revokes in the engine.
func TestDevLoop(t *testing.T) {
	bin := testenv.OperatorBinary(t)
	state := t.TempDir()
	dev := startDev(t, bin, state)

	dev.kubectl(t, "apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "samples"))
	dev.kubectl(t, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "monitoring",
		"databasetoken/telegraf-writer", "databasetoken/grafana-reader", "systemtoken/prometheus-scrape")
	writer := dev.secretToken(t, "monitoring", "telegraf-influx")
	if got := tokenenginetest.AuthorizeStatus(tlsClient(nil), dev.engineURL, writer, "telemetry", "write"); got != http.StatusNoContent {
		t.Fatalf("telegraf-writer's token: authorize write telemetry = %d, want 204", got)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(nil), dev.engineURL, writer, "telemetry", "read"); got != http.StatusForbidden {
		t.Errorf("telegraf-writer's token: authorize read telemetry = %d, want 403", got)
	}
	scrape := dev.secretToken(t, "monitoring", "engine-metrics-token")
	if got := engineGet(t, dev.engineURL+"/metrics", scrape); got != http.StatusOK {
		t.Errorf("prometheus-scrape's token: GET /metrics = %d, want 200", got)
	}
	tokens := dev.kubectl(t, "get", "tokens", "-n", "monitoring")
	for _, want := range []string{"telegraf-writer", "grafana-reader", "prometheus-scrape", "True", "db:telemetry,logs:write", "system:metrics:read"} {
		if !strings.Contains(tokens, want) {
			t.Errorf("kubectl get tokens: missing %q in\n%s", want, tokens)
		}
	}

	// A token with a 10-second expiry is revoked within 2 s of its instant.
	short := `apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: short-lived, namespace: monitoring}
spec:
  permissions: [{databases: [telemetry], actions: [read]}]
  expiresAfter: 10s
`
	applyStdin(t, dev, short)
	dev.kubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "-n", "monitoring", "databasetoken/short-lived")
	shortTok := dev.secretToken(t, "monitoring", "short-lived")
	expiresAt, err := time.Parse(time.RFC3339, dev.kubectl(t, "get", "databasetoken", "short-lived", "-n", "monitoring", "-o", "jsonpath={.status.current.expiresAt}"))
	if err != nil {
		t.Fatal(err)
	}
	dev.kubectl(t, "wait", "--for=condition=Expired", "--timeout=60s", "-n", "monitoring", "databasetoken/short-lived")
	if late := time.Since(expiresAt); late > 3*time.Second { // 2 s budget + kubectl's watch latency
		t.Errorf("expiry carried out %v after the instant, want within 2s", late)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(nil), dev.engineURL, shortTok, "telemetry", "read"); got != http.StatusUnauthorized {
		t.Errorf("expired token: authorize = %d, want 401", got)
	}

	// Ctrl-C, then a restart on the same state: same Secret, same token, still working.
	rev := dev.kubectl(t, "get", "databasetoken", "telegraf-writer", "-n", "monitoring", "-o", "jsonpath={.status.current.revision}")
	dev.interrupt(t)
	dev = startDev(t, bin, state)
	dev.kubectl(t, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "monitoring", "databasetoken/telegraf-writer", "clustertokenengine/default")
	if got := dev.secretToken(t, "monitoring", "telegraf-influx"); got != writer {
		t.Error("the Secret's token changed across a dev restart")
	}
	if got := dev.kubectl(t, "get", "databasetoken", "telegraf-writer", "-n", "monitoring", "-o", "jsonpath={.status.current.revision}"); got != rev {
		t.Errorf("revision %s after restart, want %s: nothing is re-minted", got, rev)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(nil), dev.engineURL, writer, "telemetry", "write"); got != http.StatusNoContent {
		t.Errorf("after restart: authorize = %d, want 204 (the engine's store persists)", got)
	}

	dev.kubectl(t, "delete", "databasetoken", "telegraf-writer", "-n", "monitoring", "--timeout=60s")
	if got := tokenenginetest.AuthorizeStatus(tlsClient(nil), dev.engineURL, writer, "telemetry", "write"); got != http.StatusUnauthorized {
		t.Errorf("after kubectl delete: authorize = %d, want 401", got)
	}
	dev.interrupt(t)

	for _, tok := range []string{writer, scrape, shortTok} {
		if strings.Contains(dev.out.String(), tok) {
			t.Error("a token plaintext appears in dev's output")
		}
	}
}

func applyStdin(t *testing.T, d *devProcess, manifest string) {
	t.Helper()
	testenv.RunKubectl(t, d.kubeconfig, manifest, "apply", "-f", "-")
}
