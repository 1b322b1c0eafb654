package testnode

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestSkipReason(t *testing.T) {
	ok := Host{OS: "linux", Root: true, Runc: "/usr/sbin/runc", Nft: "/usr/sbin/nft", Overlay: true,
		V1Controllers: RequiredV1Controllers}
	for _, tc := range []struct {
		name string
		edit func(*Host)
		want string // substring; "" means the node can run
	}{
		{"cgroup v1 with every controller", func(*Host) {}, ""},
		{"cgroup v2", func(h *Host) { h.V1Controllers, h.CgroupV2 = nil, true }, ""},
		{"not linux", func(h *Host) { h.OS = "darwin" }, "this is darwin"},
		{"not root", func(h *Host) { h.Root = false }, "needs root"},
		{"no runc", func(h *Host) { h.Runc = "" }, "apt-get install runc"},
		{"no nft", func(h *Host) { h.Nft = "" }, "apt-get install nftables"},
		{"no overlay", func(h *Host) { h.Overlay = false }, "no overlay filesystem"},
		{"v1 without pids", func(h *Host) { h.V1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory"} }, "found [cpu cpuacct cpuset memory]"},
		{"no control plane", func(h *Host) { h.ControlPlaneErr = errors.New("run `make control-plane`") }, "make control-plane"},
		{"no node", func(h *Host) { h.NodeErr = errors.New("run `make node`") }, "make node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ok
			tc.edit(&h)
			got := SkipReason(h)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("SkipReason = %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestInCgroupRoot(t *testing.T) {
	for _, tc := range []struct {
		cgroup string
		want   bool
	}{
		{"4:memory:/token-operator-node/kubepods/pod1/abc\n0::/\n", true},
		{"0::/token-operator-node\n", true},
		{"4:memory:/token-operator-node-other\n", false},
		{"4:memory:/process_api/x\n1:cpu:/\n", false},
		{"", false},
	} {
		if got := inCgroupRoot(tc.cgroup); got != tc.want {
			t.Errorf("inCgroupRoot(%q) = %v, want %v", tc.cgroup, got, tc.want)
		}
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a`:          "/tmp/a",
		`/tmp/a\040b`:     "/tmp/a b",
		`/tmp/x\134y`:     `/tmp/x\y`,
		`/tmp/trailing\0`: `/tmp/trailing\0`,
	} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConfigsParse: the generated configs are well-formed and carry the facts the node relies on.
func TestConfigsParse(t *testing.T) {
	var cni struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(cniConfig("/run/ipam")), &cni); err != nil {
		t.Fatal(err)
	}
	if len(cni.Plugins) != 2 || cni.Plugins[0]["bridge"] != BridgeName || cni.Plugins[0]["hairpinMode"] != true {
		t.Errorf("CNI plugins: %v", cni.Plugins)
	}
	// The addresses handed out go with the run, not to a host folder that outlives it.
	if ipam, _ := cni.Plugins[0]["ipam"].(map[string]any); ipam["dataDir"] != "/run/ipam" {
		t.Errorf("host-local's dataDir: %v", ipam)
	}
	var kubelet map[string]any
	if err := yaml.Unmarshal([]byte(kubeletConfig("/d", 1, 2, "/ca", "/crt", "/key", "/sock")), &kubelet); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"cgroupRoot": CgroupRoot, "failCgroupV1": false, "containerRuntimeEndpoint": "unix:///sock",
		"clusterDomain": ClusterDomain, "address": NodeIP} {
		if kubelet[k] != want {
			t.Errorf("kubelet %s = %v, want %v", k, kubelet[k], want)
		}
	}
	if ev := kubelet["evictionHard"].(map[string]any); ev["nodefs.available"] != "1%" {
		t.Errorf("evictionHard %v", ev)
	}
	var proxy map[string]any
	if err := yaml.Unmarshal([]byte(kubeProxyConfig("/kc", 1, 2)), &proxy); err != nil {
		t.Fatal(err)
	}
	if proxy["mode"] != "nftables" || proxy["hostnameOverride"] != NodeName {
		t.Errorf("kube-proxy: %v", proxy)
	}
	if c := containerdConfig("/d", "/bin", "/usr/sbin/runc"); !strings.Contains(c, `sandbox = "`+SandboxImage+`"`) ||
		!strings.Contains(c, `bin_dirs = ["/bin/cni"]`) || !strings.Contains(c, `BinaryName = "/usr/sbin/runc"`) {
		t.Errorf("containerd config:\n%s", c)
	}
}

func TestZombie(t *testing.T) {
	for stat, want := range map[string]bool{
		"42 (pause) S 1 42 42 0":          false,
		"43 (sh) Z 1 43 43 0":             true,
		"44 (a) Z (b)) R 1 44 44 0":       false,
		"45 (containerd-shim) Z 1 1 1 0 ": true,
	} {
		if got := zombie(stat); got != want {
			t.Errorf("zombie(%q) = %v, want %v", stat, got, want)
		}
	}
}

func TestTailMatching(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubelet.log")
	if err := os.WriteFile(path, []byte("a Probe failed 1\nb ok\nc Probe failed 2\nd Probe failed 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		substr string
		n      int
		want   string
	}{
		{"", 2, "c Probe failed 2\nd Probe failed 3"},
		{"", 10, "a Probe failed 1\nb ok\nc Probe failed 2\nd Probe failed 3"},
		{"Probe failed", 2, "c Probe failed 2\nd Probe failed 3"},
		{"ok", 5, "b ok"},
		{"absent", 5, ""},
	} {
		if got := tailMatching(path, tc.substr, tc.n); got != tc.want {
			t.Errorf("tailMatching(%q, %d) = %q, want %q", tc.substr, tc.n, got, tc.want)
		}
	}
}
