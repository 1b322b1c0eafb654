package testnode

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BaseDir holds every run's folder (run-<pid>), the host lock and the saved sysctls. It is fixed
// so that a run finds and sweeps what a killed run left (docs/node.md).
func BaseDir() string { return filepath.Join(os.TempDir(), "token-operator-node") }

// touchedSysctls are the host settings a node changes: the kubelet's kernel tunables
// (pkg/kubelet/cm setupKernelTunables, with protectKernelDefaults off) and ip_forward (the CNI
// bridge plugin as gateway). saveSysctls records them before the first run; sweep restores them.
var touchedSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward"}

func sysctlsFile() string { return filepath.Join(BaseDir(), "sysctls.json") }

// saveSysctls records the host's values unless a killed run's record is still there (that one
// holds the values from before any node ran).
func saveSysctls() error {
	if _, err := os.Stat(sysctlsFile()); err == nil {
		return nil
	}
	vals := map[string]string{}
	for _, k := range touchedSysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			vals[k] = strings.TrimSpace(string(b))
		}
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	return os.WriteFile(sysctlsFile(), b, 0o600)
}

func restoreSysctls() []error {
	b, err := os.ReadFile(sysctlsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var vals map[string]string
	if err == nil {
		err = json.Unmarshal(b, &vals)
	}
	if err != nil {
		return []error{err}
	}
	var errs []error
	for k, v := range vals {
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(sysctlsFile())
	}
	return errs
}

// sweep removes everything a node leaves on the host, from this run or a killed one: processes
// whose command line names BaseDir (components, shims) or whose cgroup is under CgroupRoot
// (containers), mounts under BaseDir (secret volumes, rootfs overlays, network namespaces),
// kube-proxy's and portmap's nftables tables, the bridge, the cgroups, and the run folders.
// Callers hold the host lock. It returns what it could not undo.
func sweep(nft string) []error {
	var errs []error
	base := BaseDir()
	// Kill until none is left: a shim may start a process while a pass kills, and a killed
	// process takes a moment to exit.
	for i := 0; ; i++ {
		left := nodeProcesses(base)
		if len(left) == 0 {
			break
		}
		if i == 50 {
			errs = append(errs, fmt.Errorf("processes %v survive SIGKILL", left))
			break
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	errs = append(errs, unmountUnder(base)...)
	for _, family := range []string{"ip", "ip6", "inet"} {
		for _, table := range []string{KubeProxyTable, "cni_hostport"} {
			// Absent tables are the normal case; only a present table that stays is an error.
			if _, err := run(nft, "list", "table", family, table); err == nil {
				if _, err := run(nft, "delete", "table", family, table); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + BridgeName); err == nil {
		if _, err := run("ip", "link", "delete", BridgeName); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, removeCgroups()...)
	errs = append(errs, restoreSysctls()...)
	// Where host-local kept the addresses before they moved into the run folder (cniConfig).
	if err := os.RemoveAll(filepath.Join("/var/lib/cni/networks", cniNetworkName)); err != nil {
		errs = append(errs, err)
	}
	runs, _ := filepath.Glob(filepath.Join(base, "run-*"))
	for _, r := range runs {
		if err := os.RemoveAll(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// nodeProcesses returns the pids (not this process) whose command line names base or whose
// cgroup is under CgroupRoot.
func nodeProcesses(base string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		// A zombie has exited already; its parent (or init) reaps it.
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err != nil || zombie(string(stat)) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cgroup, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if strings.Contains(string(cmdline), base+"/") || inCgroupRoot(string(cgroup)) {
			out = append(out, pid)
		}
	}
	return out
}

// zombie reports whether a /proc/<pid>/stat text ("pid (comm) state ...") is a zombie's.
func zombie(stat string) bool {
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

// inCgroupRoot reports whether a /proc/<pid>/cgroup text places the process under CgroupRoot in
// any hierarchy ("id:controllers:/path" lines).
func inCgroupRoot(cgroup string) bool {
	for line := range strings.SplitSeq(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == CgroupRoot || strings.HasPrefix(parts[2], CgroupRoot+"/")) {
			return true
		}
	}
	return false
}

// unmountUnder detaches every mount point under dir, deepest first.
func unmountUnder(dir string) []error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []error{err}
	}
	defer func() { _ = f.Close() }()
	var points []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 {
			p := unescapeMountPath(fields[4])
			if strings.HasPrefix(p, dir+"/") {
				points = append(points, p)
			}
		}
	}
	slices.SortFunc(points, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errs
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupHierarchies are the cgroup mount points: /sys/fs/cgroup itself on a unified (v2) host,
// every mounted controller folder on a v1 or hybrid one.
func cgroupHierarchies() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var out []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// makeCgroupRoot creates CgroupRoot in every hierarchy: the kubelet requires its cgroup root to
// exist.
func makeCgroupRoot() error {
	for _, h := range cgroupHierarchies() {
		if err := os.MkdirAll(filepath.Join(h, CgroupRoot), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// removeCgroups removes CgroupRoot and its descendants in every hierarchy, deepest first (a
// cgroup folder is removed with rmdir once its processes are gone).
func removeCgroups() []error {
	var errs []error
	for _, h := range cgroupHierarchies() {
		root := filepath.Join(h, CgroupRoot)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			var err error
			// A cgroup whose last process was just killed may be busy for a moment.
			for range 50 {
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
	}
	return errs
}

// lockHost takes the host-wide lock (flock on BaseDir/lock), waiting up to wait for another
// node's run to end; the kernel releases it when this process dies, however it dies.
func lockHost(wait time.Duration) (*os.File, error) {
	if err := os.MkdirAll(BaseDir(), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(BaseDir(), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("another test node holds %s (waited %s): %w", f.Name(), wait, err)
		}
		time.Sleep(time.Second)
	}
}

// Leftovers returns the pids a node run left on the host: processes naming BaseDir (components,
// shims) or in CgroupRoot (containers). After a stop or a sweep it is empty.
func Leftovers() []int { return nodeProcesses(BaseDir()) }
