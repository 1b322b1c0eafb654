package testnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenops/token-operator/internal/controlplane"
)

// Binaries must all be in the node folder `make node` fills (hack/node/build.sh); the CNI
// plugins are in its cni/ subfolder.
var Binaries = []string{"kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy",
	"containerd", "containerd-shim-runc-v2", "ctr", "coredns",
	"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"}

// ErrNodeMissing is returned (wrapped) by BinDir when a node binary is missing.
var ErrNodeMissing = errors.New("node not built")

// BinDir returns the folder `make node` builds into: $NODE_DIR, else the Makefile's default
// cache (${XDG_CACHE_HOME:-~/.cache}/token-operator/node-<KubeVersion>). The error names the
// folder and the command that builds it.
func BinDir() (string, error) {
	dir := os.Getenv("NODE_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: set NODE_DIR to the folder `make node` prints", ErrNodeMissing)
		}
		dir = filepath.Join(cache, "token-operator", "node-"+controlplane.KubeVersion)
	}
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return dir, fmt.Errorf("%w: %s not found in %s: run `make node` to build it (~20 min the first time)", ErrNodeMissing, b, dir)
		}
	}
	return dir, nil
}

func controlPlaneDir() (string, error) { return controlplane.Dir() }
