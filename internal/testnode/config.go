package testnode

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The node's fixed network and names (docs/node.md). One node runs on a host at a time (Start
// holds a host-wide lock), so fixed names let every run sweep what a killed run left.
const (
	// NodeName is the Node object's name and the kubelet's hostname override.
	NodeName = "tokop-node"
	// BridgeName is the Linux bridge the CNI bridge plugin attaches pods to. Start creates it
	// with NodeIP first, so the control plane can bind to NodeIP before the first pod.
	BridgeName = "tokop0"
	// NodeIP is the bridge's address: pods' gateway, and where kube-apiserver, the kubelet and
	// CoreDNS listen. Pods reach the host there; nothing listens on the host's own interfaces.
	NodeIP = "10.244.0.1"
	// PodSubnet is the bridge's subnet; host-local hands out pod addresses from PodRangeStart.
	PodSubnet     = "10.244.0.0/24"
	PodRangeStart = "10.244.0.10"
	// ServiceCIDR holds ClusterIPs; the kubernetes Service gets its first address.
	ServiceCIDR = "10.96.0.0/16"
	// ClusterDomain is the DNS suffix CoreDNS serves Services under.
	ClusterDomain = "cluster.local"
	// CgroupRoot is the kubelet's cgroup root: every pod's cgroup is below it, so a sweep finds
	// and kills what a killed run left running.
	CgroupRoot = "/token-operator-node"
	// SandboxImage is the pause image Start builds and loads; containerd's sandbox image.
	SandboxImage = "tokenops.test/pause:1"
	// KubeProxyTable is the nftables table kube-proxy's nftables mode owns (in ip and ip6).
	KubeProxyTable = "kube-proxy"
)

// containerdConfig is containerd 2.x's config (version 3) with every path under dir, runc from
// Debian, the CNI plugins from binDir/cni and our pause image as the sandbox image.
func containerdConfig(dir, binDir, runc string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
# No drop-ins from /etc/containerd; NRI would listen on the host-wide /var/run/nri socket.
imports = []
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = %[5]q
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = %[6]q
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    # Network namespaces under state, not the host-wide /var/run/netns: a sweep finds them.
    netns_mounts_under_state_dir = true
    # No oom_score_adj below containerd's own: the kubelet asks -998 for every sandbox, and a
    # host without CAP_SYS_RESOURCE (this VM's root) cannot lower it, so runc's init fails
    # ("failed to update /proc/self/oom_score_adj: Permission denied").
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = %[7]q
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [%[8]q]
      conf_dir = %[9]q
`, dir+"/containerd/root", dir+"/containerd/state", dir+"/containerd/containerd.sock", dir+"/containerd/ttrpc.sock",
		dir+"/containerd/opt", SandboxImage, runc, binDir+"/cni", dir+"/cni")
}

// cniNetworkName names the pod network.
const cniNetworkName = "tokop"

// cniConfig is the pod network: a bridge with host-local addresses, hairpin mode (a pod reaching
// itself through its Service) and no masquerade (pods never leave the host), then portmap for
// hostPort in nftables mode and the loopback. kube-proxy handles Services.
//
// host-local records each address it hands out in a file under ipamDir until the pod's sandbox
// is torn down. Its default, /var/lib/cni/networks/<name>, outlives the run, and the pods alive
// when a node stops are never torn down: each run leaked their addresses until, after a few dozen
// runs, none of the range's 245 was left ("no IP addresses available in range set"). In the run
// folder they go with the run (sweep).
func cniConfig(ipamDir string) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetworkName,
		"plugins": []any{
			map[string]any{"type": "bridge", "bridge": BridgeName, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "dataDir": ipamDir, "ranges": [][]map[string]string{{{
					"subnet": PodSubnet, "rangeStart": PodRangeStart, "gateway": NodeIP}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}}}},
			map[string]any{"type": "portmap", "backend": "nftables", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// kubeletConfig is the KubeletConfiguration: certificate authentication, the cgroupfs driver
// under CgroupRoot (failCgroupV1 off: the host may be cgroup v1), no swap check, eviction
// thresholds low enough never to evict on a shared disk, CoreDNS on NodeIP, and the default
// syncFrequency (1m) that bounds how late a mounted Secret is refreshed (docs/node.md).
func kubeletConfig(dir string, port, healthzPort int, caFile, certFile, keyFile, runtimeSock string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[4]q}
authorization: {mode: AlwaysAllow}
tlsCertFile: %[5]q
tlsPrivateKeyFile: %[6]q
cgroupDriver: cgroupfs
cgroupRoot: %[7]s
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%[8]s
clusterDNS: [%[1]s]
clusterDomain: %[9]s
resolvConf: ""
podLogsDir: %[10]q
staticPodPath: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
`, NodeIP, port, healthzPort, caFile, certFile, keyFile, CgroupRoot, runtimeSock, ClusterDomain, dir+"/pod-logs")
}

// kubeProxyConfig is kube-proxy in nftables mode. Zero conntrack settings leave the host's
// sysctls alone (the host is shared).
func kubeProxyConfig(kubeconfig string, healthzPort, metricsPort int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: %[1]q}
hostnameOverride: %[2]s
clusterCIDR: %[3]s
healthzBindAddress: 127.0.0.1:%[4]d
metricsBindAddress: 127.0.0.1:%[5]d
nodePortAddresses: [%[6]s/32]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
`, kubeconfig, NodeName, PodSubnet, healthzPort, metricsPort, NodeIP)
}

// corefile serves the cluster's Services and Pods from the API on NodeIP:53; names outside the
// cluster get NXDOMAIN (the test host has no upstream to forward to).
func corefile(kubeconfig string, healthPort, readyPort int) string {
	return strings.Join([]string{
		".:53 {",
		"    bind " + NodeIP,
		fmt.Sprintf("    health 127.0.0.1:%d", healthPort),
		fmt.Sprintf("    ready 127.0.0.1:%d", readyPort),
		"    errors",
		"    kubernetes " + ClusterDomain + " in-addr.arpa ip6.arpa {",
		"        kubeconfig " + kubeconfig,
		"        pods insecure",
		"        fallthrough in-addr.arpa ip6.arpa",
		"    }",
		"    cache 5",
		"}", ""}, "\n")
}
