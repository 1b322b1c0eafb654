package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tokenops/token-operator/config/crd"
	"github.com/tokenops/token-operator/internal/controlplane"
	"github.com/tokenops/token-operator/internal/localcluster"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

// Names `token-operator dev` gives what it creates; docs/design.md §7 documents them.
const (
	devNamespace       = "token-operator"
	devAdminSecretName = "token-engine-admin"
	devEngineName      = "default"
)

// devFlags are the dev command's settings.
type devFlags struct {
	stateDir    string
	engineAddr  string
	metricsAddr string
}

func newDevCommand() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product on this machine: control plane, token engine and manager",
		Long: `dev starts etcd and kube-apiserver (built by 'make control-plane'), installs the CRDs,
starts a token engine on loopback, stores its admin token in Secret token-operator/token-engine-admin,
creates the default ClusterTokenEngine and runs the manager in-process. State (etcd and the engine's
store) lives in --state-dir and survives restarts. Ctrl-C stops everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(ctrl.SetupSignalHandler(), f, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.stateDir, "state-dir", ".dev", "folder for etcd data, the engine's store, its admin token and the kubeconfig")
	fs.StringVar(&f.engineAddr, "engine-address", "127.0.0.1:8181", "loopback address of the token engine")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "127.0.0.1:8080", `address of the manager's metrics endpoint; "0" disables it`)
	return cmd
}

// runDev runs until ctx ends, then stops the manager, the engine and the control plane, in that order.
func runDev(ctx context.Context, f *devFlags, out io.Writer) (err error) {
	state, err := filepath.Abs(f.stateDir)
	if err != nil {
		return err
	}
	for _, d := range []string{"etcd", "engine"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o700); err != nil {
			return err
		}
	}
	release, err := lockStateDir(state)
	if err != nil {
		return err
	}
	defer release()
	cpDir, err := ensureControlPlane(out)
	if err != nil {
		return err
	}
	crds, err := crd.Definitions()
	if err != nil {
		return err
	}
	// A fixed etcd data folder is what makes tokens and Secrets survive a restart.
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:      cpDir,
		EtcdDataDir: filepath.Join(state, "etcd"),
		CertDir:     filepath.Join(state, "pki"),
	})
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver from %s: %w", cpDir, err)
	}
	defer func() { err = errors.Join(err, cluster.Stop()) }()
	if err := cluster.InstallCRDs(ctx, crds); err != nil {
		return err
	}
	cfg := cluster.Config

	kubeconfig := filepath.Join(state, "kubeconfig")
	// Ports and certificates are new at every start, so the kubeconfig is rewritten every time.
	kc, err := cluster.Kubeconfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	adminFile := filepath.Join(state, "engine", "admin-token.json")
	adminToken, err := devAdminToken(adminFile)
	if err != nil {
		return err
	}

	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineURL, engineDone, err := startDevEngine(engineCtx, f.engineAddr, filepath.Join(state, "engine"), adminFile)
	if err != nil {
		stopEngine()
		return err
	}
	defer func() { stopEngine(); err = errors.Join(err, <-engineDone) }()

	if err := installDevEngine(ctx, cfg, engineURL, adminToken); err != nil {
		return fmt.Errorf("creating the default ClusterTokenEngine: %w", err)
	}

	fmt.Fprintf(out, `
token-operator dev is running (state in %s). Ctrl-C stops it.

  export KUBECONFIG=%s
  export PATH=%s:$PATH     # the kubectl built by 'make control-plane'
  kubectl apply -f config/samples/
  kubectl get tokens -A

Token engine: %s (admin token in Secret %s/%s; ClusterTokenEngine %q is the default)
ClusterTokenEngine %q serves every namespace (allowedNamespaces matchNames [%q]): dev opts in to
this explicitly; installed engines serve no namespace until allowedNamespaces names them.

`, state, kubeconfig, cpDir, engineURL, devNamespace, devAdminSecretName, devEngineName, devEngineName, DevAllowedNamespaces)

	mf := defaultManagerFlags()
	mf.kubeconfig, mf.namespace, mf.leaderElect = kubeconfig, devNamespace, false
	mf.metricsAddr, mf.probeAddr = f.metricsAddr, "0"
	mf.zap = zap.Options{Development: true, TimeEncoder: zapcore.RFC3339TimeEncoder}
	return runManager(ctx, &mf)
}

// ensureControlPlane returns the control plane folder, building it with the repository's script
// when it is missing and dev runs from a checkout (as `make dev` does).
func ensureControlPlane(out io.Writer) (string, error) {
	dir, err := controlplane.Dir()
	if err == nil || !errors.Is(err, controlplane.ErrMissing) {
		return dir, err
	}
	const script = "hack/control-plane/build.sh"
	if _, statErr := os.Stat(script); statErr != nil {
		return "", fmt.Errorf("%w (from a checkout of token-operator)", err)
	}
	fmt.Fprintf(out, "Building the control plane (once; about 10 minutes on 2 cores): %s\n", script)
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "KUBE_VERSION="+controlplane.KubeVersion)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the control plane: %w", err)
	}
	return controlplane.Dir()
}

// devAdminToken reads the engine's admin token file, creating it on the first start.
func devAdminToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		var f tokenengine.AdminTokenFile
		if err := json.Unmarshal(b, &f); err != nil || f.Token == "" {
			return "", fmt.Errorf("%s is not an admin token file; delete it to get a new admin token", path)
		}
		return f.Token, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok, err := tokenengine.NewTokenString()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(tokenengine.AdminTokenFile{Token: tok, Name: tokenengine.AdminTokenName})
	if err != nil {
		return "", err
	}
	return tok, os.WriteFile(path, b, 0o600)
}

// startDevEngine serves the token engine until ctx ends; done delivers Serve's result.
func startDevEngine(ctx context.Context, addr, dataDir, adminFile string) (url string, done <-chan error, err error) {
	bound := make(chan net.Addr, 1)
	result := make(chan error, 1)
	go func() {
		result <- tokenengine.Serve(ctx, tokenengine.ServeConfig{
			Config: tokenengine.Config{
				DataDir:        dataDir,
				AdminTokenFile: adminFile,
			},
			Listen:      addr,
			OnListening: func(a net.Addr) { bound <- a },
		})
	}()
	select {
	case a := <-bound:
		return "http://" + a.String(), result, nil
	case err := <-result:
		return "", nil, fmt.Errorf("starting the token engine on %s: %w", addr, err)
	case <-time.After(30 * time.Second):
		return "", nil, fmt.Errorf("the token engine did not start listening on %s within 30s", addr)
	}
}
