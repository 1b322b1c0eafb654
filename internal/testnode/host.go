package testnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Host is what this machine offers a node, gathered by ReadHost; SkipReason decides on it.
type Host struct {
	OS   string
	Root bool
	// Runc and Nft are the Debian binaries' paths, empty when missing.
	Runc, Nft string
	// Overlay: the kernel lists overlay in /proc/filesystems (containerd's snapshotter).
	Overlay bool
	// CgroupV2: /sys/fs/cgroup is the unified hierarchy; V1Controllers are the cgroup v1
	// hierarchies mounted under /sys/fs/cgroup (a hybrid or legacy host).
	CgroupV2      bool
	V1Controllers []string
	// NodeDir and ControlPlaneDir hold the binaries; their errors say how to build them.
	NodeErr, ControlPlaneErr error
}

// RequiredV1Controllers are the cgroup v1 controllers the kubelet's cgroupfs driver needs
// (kubelet's cm.validateSystemRequirements: cpu, cpuacct, cpuset, memory; pids for pod limits).
var RequiredV1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids"}

// ReadHost gathers the facts SkipReason decides on.
func ReadHost() Host {
	h := Host{OS: runtime.GOOS, Root: os.Geteuid() == 0}
	h.Runc, _ = exec.LookPath("runc")
	h.Nft, _ = exec.LookPath("nft")
	if fs, err := os.ReadFile("/proc/filesystems"); err == nil {
		h.Overlay = slices.Contains(strings.Fields(string(fs)), "overlay")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		h.CgroupV2 = true
	}
	for _, c := range RequiredV1Controllers {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "cgroup.procs")); err == nil {
			h.V1Controllers = append(h.V1Controllers, c)
		}
	}
	_, h.NodeErr = BinDir()
	_, h.ControlPlaneErr = controlPlaneDir()
	return h
}

// SkipReason says why this host cannot run a node, precisely enough to fix it; "" when it can.
func SkipReason(h Host) string {
	switch {
	case h.OS != "linux":
		return fmt.Sprintf("a node runs Linux containers; this is %s", h.OS)
	case !h.Root:
		return "a node needs root: the kubelet mounts volumes, containerd creates network namespaces and cgroups (run as root or in CI)"
	case h.Runc == "":
		return "runc not installed: apt-get install runc (hack/ci-packages.sh installs it)"
	case h.Nft == "":
		return "nft not installed (kube-proxy's nftables mode runs it): apt-get install nftables (hack/ci-packages.sh installs it)"
	case !h.Overlay:
		return "the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it): load the overlay module"
	case !h.CgroupV2 && len(h.V1Controllers) < len(RequiredV1Controllers):
		return fmt.Sprintf("neither cgroup v2 nor the cgroup v1 controllers %v are mounted under /sys/fs/cgroup (found %v)",
			RequiredV1Controllers, h.V1Controllers)
	case h.ControlPlaneErr != nil:
		return h.ControlPlaneErr.Error()
	case h.NodeErr != nil:
		return h.NodeErr.Error()
	}
	return ""
}
