// Package testnode starts a real single-node Kubernetes cluster for tests (docs/node.md): etcd
// and kube-apiserver from `make control-plane`; kube-controller-manager, kube-scheduler, the
// kubelet, kube-proxy (nftables), containerd with Debian's runc, the CNI reference plugins and
// CoreDNS from `make node`. Images are loaded into containerd from archives; nothing is pulled.
// Every component dies with the test process, and each Start first sweeps what a killed run
// left behind.
package testnode

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tokenops/token-operator/internal/localcluster"
)

// Timeouts of the start sequence; generous for 2 shared cores.
const (
	// componentTimeout bounds each component's wait for readiness.
	componentTimeout = 2 * time.Minute
	// lockWait is how long Start waits for another test's node to finish.
	lockWait = 20 * time.Minute
)

// Node is a running single-node cluster.
type Node struct {
	// Dir is this run's folder (BaseDir()/run-<pid>): data, configs, sockets, logs/.
	Dir string
	// Bin is the node binaries' folder, ControlPlane the control plane's.
	Bin, ControlPlane string
	// Kubeconfig is a cluster-admin kubeconfig's path; Config and Client use the same identity.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// APIServer is kube-apiserver's URL (https://NodeIP:port).
	APIServer string

	nft, runc string
	procs     []*proc
	lock      *os.File
}

// Start starts a node for the test and stops it at cleanup, or skips the test with the reason
// when this host cannot run one (SkipReason).
func Start(t testing.TB) *Node {
	t.Helper()
	h := ReadHost()
	if reason := SkipReason(h); reason != "" {
		t.Skip(reason)
	}
	n := &Node{nft: h.Nft, runc: h.Runc}
	n.Bin, _ = BinDir()
	n.ControlPlane, _ = controlPlaneDir()
	var err error
	if n.lock, err = lockHost(lockWait); err != nil {
		t.Fatal(err)
	}
	if errs := sweep(n.nft); len(errs) > 0 {
		_ = n.lock.Close()
		t.Fatalf("cannot clear what an earlier node left: %v", errs)
	}
	t.Cleanup(func() { n.stop(t) })
	start := time.Now()
	if err := n.start(t); err != nil {
		n.dumpLogs(t)
		t.Fatalf("starting the node: %v", err)
	}
	t.Logf("node %s Ready in %s (logs in %s)", NodeName, time.Since(start).Round(time.Second), filepath.Join(n.Dir, "logs"))
	return n
}

func (n *Node) start(t testing.TB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n.Dir = filepath.Join(BaseDir(), "run-"+strconv.Itoa(os.Getpid()))
	pki := filepath.Join(n.Dir, "pki")
	for _, d := range []string{pki, filepath.Join(n.Dir, "logs"), filepath.Join(n.Dir, "cni"), filepath.Join(n.Dir, "pod-logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := saveSysctls(); err != nil {
		return err
	}
	// The bridge carries NodeIP before any pod exists: the control plane binds to it.
	for _, args := range [][]string{
		{"link", "add", BridgeName, "type", "bridge"},
		{"addr", "add", NodeIP + "/24", "dev", BridgeName},
		{"link", "set", BridgeName, "up"},
	} {
		if _, err := run("ip", args...); err != nil {
			return err
		}
	}
	if err := makeCgroupRoot(); err != nil {
		return err
	}

	ca, err := newCA()
	if err != nil {
		return err
	}
	caFile := filepath.Join(pki, "ca.crt")
	caKeyPEM, err := localcluster.ECKeyPEM(ca.key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		return err
	}
	caKeyFile := filepath.Join(pki, "ca.key")
	if err := os.WriteFile(caKeyFile, caKeyPEM, 0o600); err != nil {
		return err
	}
	servingCert, servingKey, err := ca.issue("kube-apiserver", nil,
		[]net.IP{net.ParseIP(NodeIP), net.ParseIP("10.96.0.1"), net.ParseIP("127.0.0.1")},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + ClusterDomain})
	if err != nil {
		return err
	}
	apiCrt, apiKey, err := writePair(pki, "apiserver", servingCert, servingKey)
	if err != nil {
		return err
	}
	kcCert, kcKey, err := ca.issue("kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil)
	if err != nil {
		return err
	}
	kcCrt, kcKeyFile, err := writePair(pki, "apiserver-kubelet-client", kcCert, kcKey)
	if err != nil {
		return err
	}
	kubeletServing, kubeletServingKey, err := ca.issue(NodeName, nil, []net.IP{net.ParseIP(NodeIP)}, []string{NodeName})
	if err != nil {
		return err
	}
	kubeletCrt, kubeletKey, err := writePair(pki, "kubelet", kubeletServing, kubeletServingKey)
	if err != nil {
		return err
	}
	saPub, saKey, err := serviceAccountKey(pki)
	if err != nil {
		return err
	}

	ports, err := localcluster.FreePorts(6)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer := ports[0], ports[1]
	apiPort, err := freePortOn(NodeIP)
	if err != nil {
		return err
	}
	n.APIServer = fmt.Sprintf("https://%s:%d", NodeIP, apiPort)
	kubeconfigs := map[string][2]string{ // file: user, group
		"admin":                   {"token-operator-test-admin", "system:masters"},
		"kubelet":                 {"system:node:" + NodeName, "system:nodes"},
		"kube-controller-manager": {"system:kube-controller-manager", ""},
		"kube-scheduler":          {"system:kube-scheduler", ""},
		"kube-proxy":              {"system:kube-proxy", ""},
	}
	for file, u := range kubeconfigs {
		var groups []string
		if u[1] != "" {
			groups = []string{u[1]}
		}
		if err := ca.writeKubeconfig(filepath.Join(n.Dir, file+".kubeconfig"), n.APIServer, u[0], groups...); err != nil {
			return err
		}
	}
	n.Kubeconfig = filepath.Join(n.Dir, "admin.kubeconfig")
	if n.Config, err = clientcmd.BuildConfigFromFlags("", n.Kubeconfig); err != nil {
		return err
	}
	n.Config.QPS, n.Config.Burst = 50, 100
	if n.Client, err = kubernetes.NewForConfig(n.Config); err != nil {
		return err
	}
	kc := func(name string) string { return filepath.Join(n.Dir, name+".kubeconfig") }

	// etcd: fsync off, as envtest's etcd; the data is thrown away with the run.
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcd, err := n.startProc("etcd", nil, filepath.Join(n.ControlPlane, "etcd"),
		"--name=node", "--data-dir="+filepath.Join(n.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=node="+peerURL, "--unsafe-no-fsync")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcd, http.DefaultClient, etcdURL+"/health"); err != nil {
		return err
	}

	api, err := n.startProc("kube-apiserver", nil, filepath.Join(n.ControlPlane, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address="+NodeIP, "--advertise-address="+NodeIP,
		"--secure-port="+strconv.Itoa(apiPort), "--cert-dir="+filepath.Join(n.Dir, "apiserver-certs"),
		"--tls-cert-file="+apiCrt, "--tls-private-key-file="+apiKey, "--client-ca-file="+caFile,
		"--service-cluster-ip-range="+ServiceCIDR, "--allow-privileged=true",
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc."+ClusterDomain,
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--kubelet-client-certificate="+kcCrt, "--kubelet-client-key="+kcKeyFile,
		"--kubelet-preferred-address-types=InternalIP")
	if err != nil {
		return err
	}
	if err := n.waitAPI(ctx, api); err != nil {
		return err
	}

	if _, err := n.startProc("kube-controller-manager", nil, filepath.Join(n.Bin, "kube-controller-manager"),
		"--kubeconfig="+kc("kube-controller-manager"), "--authentication-kubeconfig="+kc("kube-controller-manager"),
		"--authorization-kubeconfig="+kc("kube-controller-manager"),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[2]), "--leader-elect=false",
		"--use-service-account-credentials=true",
		"--root-ca-file="+caFile, "--cluster-signing-cert-file="+caFile, "--cluster-signing-key-file="+caKeyFile,
		"--service-cluster-ip-range="+ServiceCIDR); err != nil {
		return err
	}
	if _, err := n.startProc("kube-scheduler", nil, filepath.Join(n.Bin, "kube-scheduler"),
		"--kubeconfig="+kc("kube-scheduler"), "--authentication-kubeconfig="+kc("kube-scheduler"),
		"--authorization-kubeconfig="+kc("kube-scheduler"),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[3]), "--leader-elect=false"); err != nil {
		return err
	}

	// containerd, with the node folder first on PATH: it finds its runc shim there, not Debian's.
	if err := os.WriteFile(filepath.Join(n.Dir, "cni", "10-tokop.conflist"), []byte(cniConfig(filepath.Join(n.Dir, "cni-ipam"))), 0o644); err != nil {
		return err
	}
	ctrCfg := filepath.Join(n.Dir, "containerd.toml")
	if err := os.WriteFile(ctrCfg, []byte(containerdConfig(n.Dir, n.Bin, n.runc)), 0o644); err != nil {
		return err
	}
	pathEnv := "PATH=" + n.Bin + string(os.PathListSeparator) + os.Getenv("PATH")
	ctrd, err := n.startProc("containerd", []string{pathEnv}, filepath.Join(n.Bin, "containerd"), "--config", ctrCfg)
	if err != nil {
		return err
	}
	if err := waitFile(ctx, ctrd, n.containerdSocket()); err != nil {
		return err
	}
	if err := n.loadPause(t); err != nil {
		return err
	}

	kubeletCfg := filepath.Join(n.Dir, "kubelet.yaml")
	if err := os.WriteFile(kubeletCfg, []byte(kubeletConfig(n.Dir, ports[4], ports[5], caFile, kubeletCrt, kubeletKey, n.containerdSocket())), 0o644); err != nil {
		return err
	}
	kubelet, err := n.startProc("kubelet", []string{pathEnv}, filepath.Join(n.Bin, "kubelet"),
		"--config="+kubeletCfg, "--kubeconfig="+kc("kubelet"), "--root-dir="+filepath.Join(n.Dir, "kubelet"),
		"--hostname-override="+NodeName, "--node-ip="+NodeIP, "--v=2")
	if err != nil {
		return err
	}

	proxyPorts, err := localcluster.FreePorts(4)
	if err != nil {
		return err
	}
	proxyCfg := filepath.Join(n.Dir, "kube-proxy.yaml")
	if err := os.WriteFile(proxyCfg, []byte(kubeProxyConfig(kc("kube-proxy"), proxyPorts[0], proxyPorts[1])), 0o644); err != nil {
		return err
	}
	if _, err := n.startProc("kube-proxy", nil, filepath.Join(n.Bin, "kube-proxy"), "--config="+proxyCfg); err != nil {
		return err
	}
	coreCfg := filepath.Join(n.Dir, "Corefile")
	if err := os.WriteFile(coreCfg, []byte(corefile(n.Kubeconfig, proxyPorts[2], proxyPorts[3])), 0o644); err != nil {
		return err
	}
	dns, err := n.startProc("coredns", nil, filepath.Join(n.Bin, "coredns"), "-conf", coreCfg)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, dns, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/ready", proxyPorts[3])); err != nil {
		return err
	}
	if err := n.waitNodeReady(ctx, kubelet); err != nil {
		return err
	}
	// Pods need their namespace's ServiceAccount and kube-root-ca.crt, which the controller
	// manager creates a moment after it starts; a cluster is usable once default has them.
	return poll(ctx, kubelet, "ServiceAccount and kube-root-ca.crt in namespace default", func() error {
		if _, err := n.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return err
		}
		_, err := n.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
}

func (n *Node) containerdSocket() string {
	return filepath.Join(n.Dir, "containerd", "containerd.sock")
}

func (n *Node) startProc(name string, env []string, bin string, args ...string) (*proc, error) {
	p, err := startProc(n.Dir, name, env, bin, args...)
	if err != nil {
		return nil, err
	}
	n.procs = append(n.procs, p)
	return p, nil
}

// stop stops the components in reverse order, then sweeps: pods' containers (which outlive the
// kubelet and containerd), mounts, nftables, the bridge, cgroups.
func (n *Node) stop(t testing.TB) {
	if t.Failed() {
		n.dumpLogs(t)
	}
	for i := len(n.procs) - 1; i >= 0; i-- {
		n.procs[i].stop()
	}
	if errs := sweep(n.nft); len(errs) > 0 {
		t.Errorf("cleaning up the node: %v", errs)
	}
	_ = n.lock.Close()
}

// dumpLogs logs the tail of every component's log.
func (n *Node) dumpLogs(t testing.TB) {
	for _, p := range n.procs {
		t.Logf("--- %s (%s), last lines:\n%s", p.name, p.log, tail(p.log, 25))
	}
}

// LogLines returns the last limit lines of component's log (e.g. "kubelet") that contain substr,
// for a test that explains its own failure.
func (n *Node) LogLines(component, substr string, limit int) string {
	for _, p := range n.procs {
		if p.name != component {
			continue
		}
		return tailMatching(p.log, substr, limit)
	}
	return "no component " + component
}

// Failed returns an error for the first component that has exited.
func (n *Node) Failed() error {
	for _, p := range n.procs {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) waitAPI(ctx context.Context, api *proc) error {
	return poll(ctx, api, "kube-apiserver /readyz", func() error {
		body, err := n.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		return nil
	})
}

func (n *Node) waitNodeReady(ctx context.Context, kubelet *proc) error {
	return poll(ctx, kubelet, "Node "+NodeName+" Ready", func() error {
		node, err := n.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return n.Failed()
				}
				return fmt.Errorf("condition Ready=%s: %s", c.Status, c.Message)
			}
		}
		return fmt.Errorf("no Ready condition")
	})
}

// poll calls check every 250ms until it succeeds, p exits, or componentTimeout passes.
func poll(ctx context.Context, p *proc, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, componentTimeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if err := p.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %v; %s log ends:\n%s", what, componentTimeout, last, p.name, tail(p.log, 30))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitHTTP(ctx context.Context, p *proc, hc *http.Client, url string) error {
	return poll(ctx, p, url, func() error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func waitFile(ctx context.Context, p *proc, path string) error {
	return poll(ctx, p, path, func() error { _, err := os.Stat(path); return err })
}

func freePortOn(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Ctr runs the node's ctr against its containerd in the k8s.io namespace (the CRI's).
func (n *Node) Ctr(args ...string) (string, error) {
	return run(filepath.Join(n.Bin, "ctr"), append([]string{"--address", n.containerdSocket(), "--namespace", "k8s.io"}, args...)...)
}

// ImportImage loads a docker-archive or OCI archive into the node's containerd, as
// `ctr -n k8s.io images import` does for kind.
func (n *Node) ImportImage(t testing.TB, archive string) {
	t.Helper()
	if _, err := n.Ctr("images", "import", "--snapshotter", "overlayfs", archive); err != nil {
		t.Fatalf("importing %s: %v", archive, err)
	}
	t.Logf("imported %s into the node", filepath.Base(archive))
}
