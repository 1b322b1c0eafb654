//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// pinCPUs separates the control plane from the operator's side, as clusters do: production
// control planes run on their own nodes, so the operator never takes CPU from the API server,
// the ceiling both the operator and the baseline are measured against (docs/design.md §8). On
// a machine of n CPUs the plane's processes (kube-apiserver and etcd, pid to name) get the
// first n/2, and the benchmark process, and through it the manager and the engine it starts
// afterwards, the rest. BENCH_PIN=0 turns it off (everything shares every CPU); fewer than 2
// CPUs cannot be split.
func pinCPUs(b testing.TB, plane map[int]string) {
	n := runtime.NumCPU()
	if os.Getenv("BENCH_PIN") == "0" || n < 2 {
		b.Logf("CPUs not split between the control plane and the operator (BENCH_PIN=%q, %d CPUs)", os.Getenv("BENCH_PIN"), n)
		return
	}
	var planeCPUs, rest unix.CPUSet
	for i := range n {
		if i < n/2 {
			planeCPUs.Set(i)
		} else {
			rest.Set(i)
		}
	}
	for pid := range plane {
		if err := pinProcess(pid, &planeCPUs); err != nil {
			b.Fatalf("pinning control plane process %d: %v", pid, err)
		}
	}
	if err := pinProcess(os.Getpid(), &rest); err != nil {
		b.Fatalf("pinning the benchmark: %v", err)
	}
	b.Logf("control plane on CPUs 0-%d; benchmark, manager and engine on CPUs %d-%d", n/2-1, n/2, n-1)
}

// pinProcess sets the CPU affinity of every thread of pid; threads it starts later inherit it.
func pinProcess(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}
