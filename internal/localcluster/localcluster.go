// Package localcluster runs etcd and kube-apiserver (built by `make control-plane`) as children of
// `token-operator dev`. It replaces envtest on the production path: envtest creates a cache
// folder in an init function, which panics on a read-only root (docs/install-helm.md, "The pod
// contract"), and starts its processes in their own process group with nothing that stops them
// when their parent is killed. Here every child gets the parent-death signal (SIGKILL), so a
// killed `dev` leaves no etcd or kube-apiserver serving its state folder.
package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Timeouts for starting and stopping the control plane; kube-apiserver's first start with an empty
// etcd takes 5–15 s on 2 cores, most of it installing its bootstrap objects.
const (
	startTimeout = 90 * time.Second
	stopTimeout  = 20 * time.Second
)

// Options say where the binaries are and where state lives.
type Options struct {
	// BinDir holds etcd and kube-apiserver.
	BinDir string
	// EtcdDataDir keeps etcd's data across starts.
	EtcdDataDir string
	// CertDir holds the CA, serving and service-account keys; it is rewritten at every start.
	CertDir string
	// Output receives both processes' logs (io.Discard when nil).
	Output io.Writer
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// Config is a cluster-admin (system:masters) client config.
	Config *rest.Config
	// URL is kube-apiserver's secure address.
	URL string

	procs []*process // in start order; stopped in reverse
}

// process is one child with its exit result.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts etcd, then kube-apiserver, and waits until kube-apiserver is ready. On error
// everything it started is stopped.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	for _, d := range []string{o.EtcdDataDir, o.CertDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	pki, err := writePKI(o.CertDir)
	if err != nil {
		return nil, fmt.Errorf("writing the control plane's certificates: %w", err)
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[2])

	c = &Cluster{URL: apiURL}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()

	etcd, err := startProcess(filepath.Join(o.BinDir, "etcd"), out,
		"--data-dir="+o.EtcdDataDir,
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		// A single member talks to no peer; a fresh port keeps it off etcd's default 2380,
		// which another etcd on the machine may hold. The advertised peer URL stays the default,
		// so restarts on the same data folder see the same membership.
		"--listen-peer-urls="+peerURL,
	)
	if err != nil {
		return c, err
	}
	c.procs = append(c.procs, etcd)
	if err := waitHTTP(ctx, etcd, http.DefaultClient, etcdURL+"/health"); err != nil {
		return c, err
	}

	api, err := startProcess(filepath.Join(o.BinDir, "kube-apiserver"), out,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+o.CertDir,
		"--tls-cert-file="+pki.servingCert,
		"--tls-private-key-file="+pki.servingKey,
		"--client-ca-file="+pki.caCert,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// No controller manager runs, so nothing creates the default ServiceAccounts the
		// admission plugin would insist on.
		"--disable-admission-plugins=ServiceAccount",
		"--service-account-issuer="+apiURL,
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
	)
	if err != nil {
		return c, err
	}
	c.procs = append(c.procs, api)

	tlsCfg, err := pki.clientTLS()
	if err != nil {
		return c, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 5 * time.Second}
	if err := waitHTTP(ctx, api, hc, apiURL+"/readyz"); err != nil {
		return c, err
	}
	c.Config = &rest.Config{
		Host: apiURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pki.caPEM,
			CertData: pki.adminCertPEM,
			KeyData:  pki.adminKeyPEM,
		},
	}
	return c, nil
}

// Kubeconfig returns a kubeconfig for c.Config.
func (c *Cluster) Kubeconfig() ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.Config.CertData, ClientKeyData: c.Config.KeyData}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: "admin"}
	cfg.CurrentContext = "dev"
	return clientcmd.Write(*cfg)
}

// Stop stops kube-apiserver, then etcd: SIGTERM, then SIGKILL after stopTimeout.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop())
	}
	c.procs = nil
	return errors.Join(errs...)
}

// startProcess starts a child that the kernel kills when this process dies (see the package
// comment), in its own process group so that a Ctrl-C on the terminal reaches only `dev`, which
// then stops the children in order.
func startProcess(path string, out io.Writer, args ...string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	p := &process{name: filepath.Base(path), cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, stopTimeout)
	}
}

// waitHTTP polls url until it answers 200, the process exits, or startTimeout passes.
func waitHTTP(ctx context.Context, p *process, hc *http.Client, url string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready at %s within %s", p.name, redactURL(url), startTimeout)
		}
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// FreePorts returns n loopback ports that were free a moment ago (all held at once, so they
// differ).
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// clientTLS is the admin's TLS configuration, for the readiness poll.
func (p *pki) clientTLS() (*tls.Config, error) {
	pair, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.caPEM)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}
