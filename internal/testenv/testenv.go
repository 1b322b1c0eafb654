// Package testenv starts the real test control plane (kube-apiserver and etcd built by
// `make control-plane`) through controller-runtime's envtest, and finds the repository's files.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlaneBinaries must all be present in the control-plane folder.
var controlPlaneBinaries = []string{"kube-apiserver", "etcd", "kubectl"}

// RepoRoot returns the repository root (the folder holding go.mod), found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// KubeVersion is the control plane version `make control-plane` builds by default; keep it equal
// to KUBE_VERSION in the Makefile.
const KubeVersion = "v1.37.2"

// ControlPlaneDir returns the folder holding kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS,
// else CONTROL_PLANE_DIR, else the Makefile's default cache. It fails with the command that builds them.
func ControlPlaneDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = os.Getenv("CONTROL_PLANE_DIR")
	}
	if dir == "" {
		cache, err := os.UserCacheDir() // $XDG_CACHE_HOME or ~/.cache, as the Makefile uses
		if err != nil {
			return "", errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, " +
				"or run `make control-plane` and export KUBEBUILDER_ASSETS to the folder it prints")
		}
		dir = filepath.Join(cache, "token-operator", "k8s-"+KubeVersion)
	}
	for _, b := range controlPlaneBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s not found in %s: run `make control-plane` to build the test control plane", b, dir)
		}
	}
	return dir, nil
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

// New returns an envtest environment on the real control plane, with our CRDs installed when
// withCRDs is true.
func New(withCRDs bool) (*envtest.Environment, error) {
	dir, err := ControlPlaneDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
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
