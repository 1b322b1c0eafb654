// Package controlplane finds the kube-apiserver, etcd and kubectl that `make control-plane`
// builds from the Go module proxy, for the tests and for `token-operator dev`.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubeVersion is the version `make control-plane` builds by default; keep it equal to
// KUBE_VERSION in the Makefile.
const KubeVersion = "v1.37.2"

// Binaries must all be present in the control-plane folder.
var Binaries = []string{"kube-apiserver", "etcd", "kubectl"}

// ErrMissing is returned (wrapped) by Dir when a binary is missing from the folder.
var ErrMissing = errors.New("control plane not built")

// Dir returns the folder holding the control plane: $KUBEBUILDER_ASSETS, else
// $CONTROL_PLANE_DIR, else the Makefile's default cache
// (${XDG_CACHE_HOME:-~/.cache}/token-operator/k8s-<KubeVersion>). The error names the folder and
// the command that builds it.
func Dir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = os.Getenv("CONTROL_PLANE_DIR")
	}
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: set KUBEBUILDER_ASSETS or CONTROL_PLANE_DIR to the folder `make control-plane` prints", ErrMissing)
		}
		dir = filepath.Join(cache, "token-operator", "k8s-"+KubeVersion)
	}
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return dir, fmt.Errorf("%w: %s not found in %s: run `make control-plane` to build it", ErrMissing, b, dir)
		}
	}
	return dir, nil
}
