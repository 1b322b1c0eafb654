package node

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tokenops/token-operator/internal/testnode"
)

// killChildEnv makes TestKilledRunChild start a node instead of skipping.
const killChildEnv = "TESTNODE_KILL_CHILD"

// TestKilledRunLeavesNothing SIGKILLs a test process whose node runs a pod, the way a timed-out
// or interrupted `go test` dies: its components die with it (parent-death signal), the pod's
// container and shim do not, and the next Start sweeps them and whatever else the run left.
func TestKilledRunLeavesNothing(t *testing.T) {
	if reason := testnode.SkipReason(testnode.ReadHost()); reason != "" {
		t.Skip(reason)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestKilledRunChild$", "-test.v", "-test.timeout=5m")
	child.Env = append(os.Environ(), killChildEnv+"=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = child.Stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			log.WriteString(s.Text() + "\n")
			if strings.Contains(s.Text(), "POD RUNNING") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(4 * time.Minute):
		_ = child.Process.Kill()
		t.Fatalf("the child's node never ran its pod:\n%s", log.String())
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	time.Sleep(2 * time.Second)
	left := testnode.Leftovers()
	if len(left) == 0 {
		t.Fatal("the killed run left no container behind: this test would prove nothing")
	}
	t.Logf("the killed run left %d processes (container, shim)", len(left))

	t.Cleanup(func() {
		if left := testnode.Leftovers(); len(left) > 0 {
			t.Errorf("after the second run's stop, processes remain: %v", left)
		}
	})
	n := testnode.Start(t)
	for _, pid := range left {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("process %d of the killed run survived the next Start", pid)
		}
	}
	e := &env{n: n, cs: n.Client}
	e.runPod(t, "after-kill")
}

// TestKilledRunChild is TestKilledRunLeavesNothing's child: it starts a node, runs a pod, says so
// and waits to be killed.
func TestKilledRunChild(t *testing.T) {
	if os.Getenv(killChildEnv) == "" {
		t.Skip("runs only as TestKilledRunLeavesNothing's child")
	}
	n := testnode.Start(t)
	e := &env{n: n, cs: n.Client}
	e.runPod(t, "before-kill")
	fmt.Println("POD RUNNING")
	time.Sleep(10 * time.Minute)
}

// runPod runs the sandbox image as a pod in namespace default and waits for it to run.
func (e *env) runPod(t *testing.T, name string) {
	t.Helper()
	never := corev1.PullNever
	_, err := e.cs.CoreV1().Pods("default").Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: testnode.SandboxImage, ImagePullPolicy: never}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.readyPods(t, "default", "app="+name, 1)
}
