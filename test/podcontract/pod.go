// Package podcontract runs the containers of rendered manifests (the Helm chart, config/default)
// the way a kubelet would, without one: the image's root filesystem under runc, read-only when
// the securityContext says so, as the user it names, with its capabilities dropped, and with each
// volume (emptyDir, Secret, PersistentVolumeClaim, the ServiceAccount token) a folder of the same
// path and modes. What differs from a kubelet is named where it happens; docs/install-helm.md
// ("The pod contract") lists it.
package podcontract

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tokenops/token-operator/internal/testenv"
)

// Kubelet defaults this package copies (pkg/volume/emptydir, pkg/volume/util/fs ownership).
const (
	// emptyDirMode is the mode of an emptyDir folder.
	emptyDirMode = 0o777
	// defaultSecretMode is a Secret volume's defaultMode when the manifest gives none.
	defaultSecretMode = 0o644
	// saMountPath is where the kubelet projects the ServiceAccount token, CA and namespace.
	saMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// Cluster is what the containers see of the cluster: the API server's address and CA, a way to
// read Secrets and mint ServiceAccount tokens, and the Service names that resolve to loopback.
type Cluster struct {
	// APIHost and APIPort become KUBERNETES_SERVICE_HOST/PORT, as a kubelet sets them.
	APIHost, APIPort string
	// CA is the API server's CA certificate (ca.crt of the ServiceAccount volume).
	CA []byte
	// Secret returns a Secret's data.
	Secret func(namespace, name string) (map[string][]byte, error)
	// SAToken returns a token for a ServiceAccount (TokenRequest).
	SAToken func(namespace, name string) (string, error)
	// Hosts are names that resolve to 127.0.0.1 inside every container: the Services' DNS names.
	// Containers share the host's network namespace, so Service ports are container ports.
	Hosts []string
}

// Runtime runs containers from one unpacked image with runc.
type Runtime struct {
	// Runc is the runc binary; StateDir is its --root, swept of earlier runs' containers.
	Runc, StateDir string
	// Rootfs is the image's unpacked root filesystem; Config its configuration.
	Rootfs string
	Config v1.Config
	// Cluster is what the pods see.
	Cluster Cluster
}

// Pod is one pod of a rendered workload.
type Pod struct {
	Namespace, Name string
	Spec            corev1.PodSpec
	// Claims maps a volume name to a folder standing in for its bound PersistentVolume.
	Claims map[string]string
}

// Container is a running container.
type Container struct {
	ID   string
	Logs *testenv.Buffer
	spec corev1.Container
	done chan struct{}
	err  error
	rt   *Runtime
}

// Sweep deletes every container left in StateDir by an earlier, killed run.
func (rt *Runtime) Sweep() {
	out, err := exec.Command(rt.Runc, "--root", rt.StateDir, "list", "-q").Output()
	if err != nil {
		return
	}
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command(rt.Runc, "--root", rt.StateDir, "delete", "--force", id).Run()
	}
}

// Start runs container c of pod p and stops it when the test ends.
func (rt *Runtime) Start(t *testing.T, p Pod, c corev1.Container) *Container {
	t.Helper()
	bundle := t.TempDir()
	spec, err := rt.spec(t, p, c, bundle)
	if err != nil {
		t.Fatalf("%s/%s container %s: %v", p.Namespace, p.Name, c.Name, err)
	}
	b, err := json.MarshalIndent(spec, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("podcontract-%d-%s-%s", os.Getpid(), p.Name, c.Name)
	cmd := exec.Command(rt.Runc, "--root", rt.StateDir, "run", "--bundle", bundle, id)
	logs := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// runc run stays in the foreground and forwards signals to the container: if the test
	// process dies, SIGTERM reaches runc and from it the container, which then exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctr := &Container{ID: id, Logs: logs, spec: c, done: make(chan struct{}), rt: rt}
	go func() { ctr.err = cmd.Wait(); close(ctr.done) }()
	t.Cleanup(func() {
		ctr.Stop()
		if t.Failed() {
			t.Logf("container %s output:\n%s", c.Name, logs.String())
		}
	})
	return ctr
}

// Stop sends SIGTERM (as a kubelet does), waits for the exit, then removes the container.
func (c *Container) Stop() {
	_ = exec.Command(c.rt.Runc, "--root", c.rt.StateDir, "kill", c.ID, "TERM").Run()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = exec.Command(c.rt.Runc, "--root", c.rt.StateDir, "kill", c.ID, "KILL").Run()
		<-c.done
	}
	_ = exec.Command(c.rt.Runc, "--root", c.rt.StateDir, "delete", "--force", c.ID).Run()
}

// Exited reports the container's exit, if it has exited.
func (c *Container) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// WaitReady polls the container's readiness probe (an httpGet, as rendered) until it succeeds:
// any status from 200 to 399, as the kubelet counts it.
func (c *Container) WaitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	probe := c.spec.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		t.Fatalf("container %s has no httpGet readiness probe", c.spec.Name)
	}
	port, err := resolvePort(c.spec, probe.HTTPGet.Port)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, probe.HTTPGet.Path)
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if done, err := c.Exited(); done {
			t.Fatalf("container %s exited before it was ready: %v\n%s", c.spec.Name, err, c.Logs.String())
		}
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 400 {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("container %s: readiness probe %s not ready within %s (last: %s)\n%s", c.spec.Name, url, timeout, last, c.Logs.String())
}

// AssertContract checks the running process from the outside (/proc of its pid, read from the
// host): the uid and gid it runs as, a read-only root mount when the securityContext asks for
// one, and no effective capabilities when it drops ALL.
func (c *Container) AssertContract(t *testing.T, p Pod) {
	t.Helper()
	out, err := exec.Command(c.rt.Runc, "--root", c.rt.StateDir, "state", c.ID).Output()
	if err != nil {
		t.Fatalf("runc state %s: %v", c.ID, err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid == 0 {
		t.Fatalf("runc state %s: %v %s", c.ID, err, out)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	sc := effectiveSecurity(p.Spec.SecurityContext, c.spec.SecurityContext)
	uid, gid, _ := c.rt.user(sc)
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	if want := fmt.Sprintf("%d %d %d %d", uid, uid, uid, uid); fields["Uid"] != want {
		t.Errorf("container %s runs with Uid %q, want %q", c.spec.Name, fields["Uid"], want)
	}
	if want := fmt.Sprintf("%d %d %d %d", gid, gid, gid, gid); fields["Gid"] != want {
		t.Errorf("container %s runs with Gid %q, want %q", c.spec.Name, fields["Gid"], want)
	}
	if slices.Contains(sc.drop, "ALL") && fields["CapEff"] != "0000000000000000" {
		t.Errorf("container %s has effective capabilities %s after dropping ALL", c.spec.Name, fields["CapEff"])
	}
	if sc.readOnlyRoot {
		mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", st.Pid))
		if err != nil {
			t.Fatal(err)
		}
		ro := false
		for _, line := range strings.Split(string(mi), "\n") {
			f := strings.Fields(line)
			if len(f) > 5 && f[4] == "/" {
				ro = slices.Contains(strings.Split(f[5], ","), "ro")
			}
		}
		if !ro {
			t.Errorf("container %s: the root filesystem is not mounted read-only", c.spec.Name)
		}
	}
}

// resolvePort turns a probe's port (a number or a container port's name) into a number.
func resolvePort(c corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}

// spec builds the OCI runtime spec of container c in pod p.
func (rt *Runtime) spec(t *testing.T, p Pod, c corev1.Container, bundle string) (*specs.Spec, error) {
	sc := effectiveSecurity(p.Spec.SecurityContext, c.SecurityContext)
	uid, gid, err := rt.user(sc)
	if err != nil {
		return nil, err
	}
	if sc.runAsNonRoot && uid == 0 {
		return nil, fmt.Errorf("runAsNonRoot is set and the container would run as root")
	}
	var fsGroup *int64
	if ps := p.Spec.SecurityContext; ps != nil {
		fsGroup = ps.FSGroup
	}
	groups := []uint32{}
	if fsGroup != nil {
		groups = append(groups, uint32(*fsGroup))
	}

	args := rt.Config.Entrypoint
	if len(c.Command) > 0 {
		args = c.Command
	}
	if len(c.Args) > 0 {
		args = append(append([]string{}, args...), c.Args...)
	} else if len(c.Command) == 0 {
		args = append(append([]string{}, args...), rt.Config.Cmd...)
	}
	env, err := rt.env(p, c)
	if err != nil {
		return nil, err
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = rt.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}

	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	vm, err := rt.volumeMounts(t, p, c, fsGroup)
	if err != nil {
		return nil, err
	}
	mounts = append(mounts, vm...)
	// /etc/hosts: the kubelet manages it too; here it also stands in for cluster DNS.
	hosts := filepath.Join(bundle, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost "+p.Name+" "+strings.Join(rt.Cluster.Hosts, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	mounts = append(mounts, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}})

	caps := capabilities(sc)
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User:            specs.User{UID: uid, GID: gid, AdditionalGids: groups},
			Args:            args,
			Env:             env,
			Cwd:             cwd,
			NoNewPrivileges: !sc.allowPrivilegeEscalation,
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
		},
		Root:     &specs.Root{Path: rt.Rootfs, Readonly: sc.readOnlyRoot},
		Hostname: p.Name,
		Mounts:   mounts,
		Linux: &specs.Linux{
			// No network namespace: the pods share the host's loopback with the API server (the
			// difference from a kubelet's pod network; Service names resolve to 127.0.0.1).
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace}},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
		},
	}, nil
}

// security is the container's effective securityContext (container fields over pod fields).
type security struct {
	runAsUser, runAsGroup    *int64
	runAsNonRoot             bool
	readOnlyRoot             bool
	allowPrivilegeEscalation bool
	drop, add                []corev1.Capability
}

func effectiveSecurity(ps *corev1.PodSecurityContext, cs *corev1.SecurityContext) security {
	s := security{allowPrivilegeEscalation: true}
	if ps != nil {
		s.runAsUser, s.runAsGroup = ps.RunAsUser, ps.RunAsGroup
		s.runAsNonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
	}
	if cs != nil {
		if cs.RunAsUser != nil {
			s.runAsUser = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			s.runAsGroup = cs.RunAsGroup
		}
		if cs.RunAsNonRoot != nil {
			s.runAsNonRoot = *cs.RunAsNonRoot
		}
		s.readOnlyRoot = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
		if cs.AllowPrivilegeEscalation != nil {
			s.allowPrivilegeEscalation = *cs.AllowPrivilegeEscalation
		}
		if cs.Capabilities != nil {
			s.drop, s.add = cs.Capabilities.Drop, cs.Capabilities.Add
		}
	}
	return s
}

// user is the uid and gid: the securityContext's, else the image's USER (numeric: a name would
// need the image's /etc/passwd, which the kubelet cannot check runAsNonRoot against).
func (rt *Runtime) user(s security) (uint32, uint32, error) {
	var uid, gid int64
	if u := rt.Config.User; u != "" {
		parts := strings.SplitN(u, ":", 2)
		var err error
		if uid, err = strconv.ParseInt(parts[0], 10, 32); err != nil {
			return 0, 0, fmt.Errorf("image USER %q is not numeric", u)
		}
		if len(parts) == 2 {
			if gid, err = strconv.ParseInt(parts[1], 10, 32); err != nil {
				return 0, 0, fmt.Errorf("image USER %q has a non-numeric group", u)
			}
		}
	}
	if s.runAsUser != nil {
		uid = *s.runAsUser
	}
	if s.runAsGroup != nil {
		gid = *s.runAsGroup
	}
	return uint32(uid), uint32(gid), nil
}

// runtimeDefaultCaps is containerd's default capability set for a container.
var runtimeDefaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

func capabilities(s security) []string {
	drop := map[string]bool{}
	for _, d := range s.drop {
		if d == "ALL" {
			drop["ALL"] = true
		}
		drop["CAP_"+string(d)] = true
	}
	out := []string{}
	for _, c := range runtimeDefaultCaps {
		if !drop["ALL"] && !drop[c] {
			out = append(out, c)
		}
	}
	for _, a := range s.add {
		out = append(out, "CAP_"+string(a))
	}
	return out
}

// env is the image's environment, then the kubelet's (HOME, HOSTNAME, the API server's
// Service), then the container's own, with the downward API and Secret references resolved.
func (rt *Runtime) env(p Pod, c corev1.Container) ([]string, error) {
	env := append([]string{}, rt.Config.Env...)
	env = append(env, "HOSTNAME="+p.Name, "HOME=/home/nonroot",
		"KUBERNETES_SERVICE_HOST="+rt.Cluster.APIHost, "KUBERNETES_SERVICE_PORT="+rt.Cluster.APIPort)
	for _, e := range c.Env {
		v := e.Value
		if vf := e.ValueFrom; vf != nil {
			switch {
			case vf.FieldRef != nil && vf.FieldRef.FieldPath == "metadata.namespace":
				v = p.Namespace
			case vf.FieldRef != nil && vf.FieldRef.FieldPath == "metadata.name":
				v = p.Name
			case vf.FieldRef != nil && vf.FieldRef.FieldPath == "status.podIP":
				v = "127.0.0.1"
			case vf.SecretKeyRef != nil:
				data, err := rt.Cluster.Secret(p.Namespace, vf.SecretKeyRef.Name)
				if err != nil {
					return nil, err
				}
				v = string(data[vf.SecretKeyRef.Key])
			default:
				return nil, fmt.Errorf("env %s: valueFrom %+v is not supported here", e.Name, vf)
			}
		}
		env = append(env, e.Name+"="+v)
	}
	return env, nil
}

// volumeMounts makes each mounted volume a folder as the kubelet would lay it out, with fsGroup
// ownership (group fsGroup, group-readable, setgid folders), and the ServiceAccount volume.
func (rt *Runtime) volumeMounts(t *testing.T, p Pod, c corev1.Container, fsGroup *int64) ([]specs.Mount, error) {
	vols := map[string]corev1.Volume{}
	for _, v := range p.Spec.Volumes {
		vols[v.Name] = v
	}
	var out []specs.Mount
	for _, m := range c.VolumeMounts {
		var src string
		v, declared := vols[m.Name]
		switch {
		case declared && v.EmptyDir != nil:
			src = t.TempDir()
			if err := own(src, emptyDirMode, fsGroup, true); err != nil {
				return nil, err
			}
		case declared && v.Secret != nil:
			data, err := rt.Cluster.Secret(p.Namespace, v.Secret.SecretName)
			if err != nil {
				return nil, err
			}
			mode := int32(defaultSecretMode)
			if v.Secret.DefaultMode != nil {
				mode = *v.Secret.DefaultMode
			}
			files := map[string][]byte{}
			if len(v.Secret.Items) == 0 {
				for k, val := range data {
					files[k] = val
				}
			}
			for _, it := range v.Secret.Items {
				val, ok := data[it.Key]
				if !ok {
					return nil, fmt.Errorf("volume %s: Secret %s has no key %s", m.Name, v.Secret.SecretName, it.Key)
				}
				files[it.Path] = val
			}
			if src, err = writeFiles(t, files, os.FileMode(mode), fsGroup); err != nil {
				return nil, err
			}
		case declared && v.PersistentVolumeClaim != nil, !declared && p.Claims[m.Name] != "":
			// A StatefulSet's volumeClaimTemplates name volumes the pod spec does not list.
			src = p.Claims[m.Name]
			if src == "" {
				return nil, fmt.Errorf("volume %s: no folder stands in for its claim", m.Name)
			}
			if err := own(src, 0o770, fsGroup, true); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("volume %s of container %s is not supported here (or not declared)", m.Name, c.Name)
		}
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: m.MountPath, Type: "bind", Source: src, Options: opts})
	}
	if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		tok, err := rt.Cluster.SAToken(p.Namespace, sa)
		if err != nil {
			return nil, err
		}
		src, err := writeFiles(t, map[string][]byte{"token": []byte(tok), "ca.crt": rt.Cluster.CA, "namespace": []byte(p.Namespace)}, 0o644, fsGroup)
		if err != nil {
			return nil, err
		}
		out = append(out, specs.Mount{Destination: saMountPath, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", "ro"}})
	}
	return out, nil
}

// writeFiles writes an atomic-writer style volume: files owned by root, group fsGroup.
func writeFiles(t *testing.T, files map[string][]byte, mode os.FileMode, fsGroup *int64) (string, error) {
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			return "", err
		}
		m := mode
		if fsGroup != nil {
			// The kubelet makes volume files group-readable by fsGroup (SetVolumeOwnership).
			m |= 0o440
		}
		if err := own(path, m, fsGroup, false); err != nil {
			return "", err
		}
	}
	return dir, own(dir, 0o755, fsGroup, true)
}

// own sets mode, and with an fsGroup the group and (on folders) setgid, as the kubelet does.
func own(path string, mode os.FileMode, fsGroup *int64, dir bool) error {
	if fsGroup != nil {
		if err := os.Chown(path, 0, int(*fsGroup)); err != nil {
			return err
		}
		if dir {
			mode |= os.ModeSetgid
		}
	}
	return os.Chmod(path, mode)
}
