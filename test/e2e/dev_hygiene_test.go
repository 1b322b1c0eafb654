package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/testenv"
)

// TestDevKilledLeavesNoServers: SIGKILL of `token-operator dev` (a closed terminal, an OOM kill)
// takes its etcd and kube-apiserver with it, and a second dev on the same state folder starts.
// Before, the children outlived it and three etcds ended up serving one .dev/etcd.
func TestDevKilledLeavesNoServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the control plane")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc (Linux) to see the child processes")
	}
	bin := testenv.OperatorBinary(t)
	state := t.TempDir()
	d := startDev(t, bin, state)
	kids := testenv.Children(t, d.cmd.Process.Pid)
	names := map[string]int{}
	for pid, comm := range kids {
		names[comm] = pid
	}
	for _, want := range []string{"etcd", "kube-apiserver"} {
		if _, ok := names[want]; !ok {
			t.Fatalf("dev's children %v lack %s", kids, want)
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	deadline := time.Now().Add(10 * time.Second)
	for pid, comm := range kids {
		for testenv.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if testenv.Alive(pid) {
			t.Errorf("%s (pid %d) outlived the SIGKILLed dev", comm, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	// The same state folder serves again, with what the first run stored.
	d2 := startDev(t, bin, state)
	if out := d2.kubectl(t, "get", "clustertokenengine", "default", "-o", "name"); !strings.Contains(out, "default") {
		t.Errorf("after the restart: %q", out)
	}
	d2.interrupt(t)
}

// TestDevRefusesStateDirInUse: a second dev on a state folder in use exits at once, naming the
// running instance, and leaves the first one serving.
func TestDevRefusesStateDirInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the control plane")
	}
	bin := testenv.OperatorBinary(t)
	state := t.TempDir()
	d := startDev(t, bin, state)

	second := exec.Command(bin, "dev", "--state-dir", state, "--engine-address", "127.0.0.1:0", "--metrics-bind-address", "0")
	out := &testenv.Buffer{}
	second.Stdout, second.Stderr = out, out
	done := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("the second dev exited 0:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		_ = second.Process.Kill()
		t.Fatalf("the second dev did not refuse within 30s:\n%s", out)
	}
	want := "token-operator dev (pid " + strconv.Itoa(d.cmd.Process.Pid)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), state) {
		t.Errorf("the refusal does not name the running instance (%q) and the folder:\n%s", want, out)
	}
	// The first one still serves.
	d.kubectl(t, "get", "namespace", "token-operator")
	d.interrupt(t)
}
