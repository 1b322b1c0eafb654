package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledTestLeavesNoServers runs a test binary that starts the control plane, kills it with
// SIGKILL (no cleanup runs), and requires its etcd and kube-apiserver to die with it.
func TestKilledTestLeavesNoServers(t *testing.T) {
	if os.Getenv("TESTENV_HOLD_CONTROL_PLANE") == "1" {
		Start(t, false)
		fmt.Println("control plane up")
		time.Sleep(5 * time.Minute)
		return
	}
	if testing.Short() {
		t.Skip("starts the control plane")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc (Linux) to see the child processes")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is missing: the control plane cannot be tied to the test process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledTestLeavesNoServers$", "-test.v")
	// The killed child cleans up nothing: its etcd data and certificates (~250 MB) go in a
	// folder of this test's, which this test removes.
	cmd.Env = append(os.Environ(), "TESTENV_HOLD_CONTROL_PLANE=1", "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "control plane up") {
				close(up)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-up:
	case err := <-exited:
		t.Fatalf("the test process exited before the control plane was up: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("the control plane did not start within 3 minutes")
	}
	kids := Children(t, cmd.Process.Pid)
	found := map[string]bool{}
	for _, comm := range kids {
		found[comm] = true
	}
	if !found["etcd"] || !found["kube-apiserver"] {
		t.Fatalf("the test process's children %v lack etcd or kube-apiserver", kids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	deadline := time.Now().Add(10 * time.Second)
	for pid, comm := range kids {
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if Alive(pid) {
			t.Errorf("%s (pid %s) outlived the SIGKILLed test process", comm, strconv.Itoa(pid))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
