// Package testenv starts the real test control plane (kube-apiserver and etcd built by
// `make control-plane`) through controller-runtime's envtest, and finds the repository's files.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tokenops/token-operator/internal/controlplane"
)

// RepoRoot returns the repository root (the folder holding go.mod), found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ControlPlaneDir returns the folder holding kube-apiserver, etcd and kubectl (see controlplane.Dir).
func ControlPlaneDir() (string, error) {
	return controlplane.Dir()
}

// Kubectl returns the path of the kubectl built by `make control-plane`.
func Kubectl() (string, error) {
	dir, err := ControlPlaneDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kubectl"), nil
}

// CRDPath is the folder of generated CRDs.
func CRDPath() string { return filepath.Join(RepoRoot(), "config", "crd", "bases") }

// controlPlaneStartTimeout bounds each control-plane process's start. envtest's 20 s default is
// too short on a 2-core machine busy with other test packages (a CI run failed so, on a machine
// other builds were loading); $KUBEBUILDER_CONTROLPLANE_START_TIMEOUT is ignored once this is set.
const controlPlaneStartTimeout = 90 * time.Second

// New returns an envtest environment on the real control plane, with our CRDs installed when
// withCRDs is true.
func New(withCRDs bool) (*envtest.Environment, error) {
	dir, err := ControlPlaneDir()
	if err != nil {
		return nil, err
	}
	// The paths are set, not left to BinaryAssetsDirectory: envtest prefers $KUBEBUILDER_ASSETS
	// (which the Makefile exports) to it, and would bypass the wrappers.
	bins := diesWithTest(dir)
	env := &envtest.Environment{BinaryAssetsDirectory: bins, ControlPlaneStartTimeout: controlPlaneStartTimeout}
	env.ControlPlane.GetAPIServer().Path = filepath.Join(bins, "kube-apiserver")
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(bins, "etcd")}
	if withCRDs {
		env.CRDDirectoryPaths = []string{CRDPath()}
		env.ErrorIfCRDPathMissing = true
	}
	return env, nil
}

// AdminKubeconfig adds a cluster-admin user to a started environment and returns its kubeconfig.
func AdminKubeconfig(env *envtest.Environment) ([]byte, error) {
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return user.KubeConfig()
}

// BuildOperator builds the token-operator binary into dir, as `make build` does, and returns its path.
func BuildOperator(dir string) (string, error) {
	out := filepath.Join(dir, "token-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}
