package podcontract

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/tokenops/token-operator/internal/cli"
	"github.com/tokenops/token-operator/internal/ociimage"
	"github.com/tokenops/token-operator/internal/testenv"
)

// stateDir is runc's --root for these tests: fixed, so that a run sweeps what a killed run left.
const stateDir = "/run/token-operator-podcontract"

var (
	imageOnce sync.Once
	imageDir  string // holds the unpacked root filesystem; removed by TestMain
	rootfs    string
	imageCfg  *v1.ConfigFile
	imageErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageDir != "" {
		_ = os.RemoveAll(imageDir)
	}
	os.Exit(code)
}

// runcBinary skips the test where runc cannot run containers: not Linux, not root (rootless runc
// needs user namespaces and a cgroup delegation this suite does not set up), or runc missing.
func runcBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("runc runs Linux containers; this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skip("running the image under runc needs root here (rootless runc needs user namespaces and cgroup delegation); run as root or in CI")
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not installed: apt-get install runc (hack/ci-packages.sh installs it)")
	}
	return p
}

// image loads the image `make image` wrote ($TOKEN_OPERATOR_IMAGE, exported by the Makefile) or,
// outside make, builds one the same way, and unpacks its root filesystem once per test binary.
func image(t *testing.T) (string, v1.Config) {
	t.Helper()
	imageOnce.Do(func() {
		imageDir, imageErr = os.MkdirTemp("", "podcontract-image-")
		if imageErr != nil {
			return
		}
		var img v1.Image
		if p := os.Getenv("TOKEN_OPERATOR_IMAGE"); p != "" {
			if _, err := os.Stat(p); err != nil {
				imageErr = fmt.Errorf("TOKEN_OPERATOR_IMAGE=%s: %w (run `make image`)", p, err)
				return
			}
			img, imageErr = tarball.ImageFromPath(p, nil)
		} else {
			img, imageErr = buildImage(imageDir)
		}
		if imageErr != nil {
			return
		}
		if imageCfg, imageErr = img.ConfigFile(); imageErr != nil {
			return
		}
		rootfs = filepath.Join(imageDir, "rootfs")
		imageErr = ociimage.Unpack(img, rootfs)
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return rootfs, imageCfg.Config
}

// buildImage builds the binary with the Makefile's image flags and the image from it.
func buildImage(dir string) (v1.Image, error) {
	bin := filepath.Join(dir, "token-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-test", "-o", bin, ".")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, b)
	}
	return ociimage.Build(ociimage.Options{Binary: bin, OS: "linux", Architecture: runtime.GOARCH,
		Source: "https://github.com/tokenops/token-operator", Revision: "test", Version: "v0.0.0-test", Created: time.Unix(0, 0)})
}

func newRuntime(t *testing.T, cluster Cluster) *Runtime {
	t.Helper()
	runc := runcBinary(t)
	fs, cfg := image(t)
	rt := &Runtime{Runc: runc, StateDir: stateDir, Rootfs: fs, Config: cfg, Cluster: cluster}
	rt.Sweep()
	return rt
}

// podSubcommands are the subcommands that run in a pod: all but dev (a workstation command) and
// cobra's own.
func podSubcommands() []string {
	var out []string
	for _, c := range cli.NewRootCommand().Commands() {
		switch c.Name() {
		case "dev", "help", "completion":
			continue
		}
		out = append(out, c.Name())
	}
	return out
}

// TestEverySubcommandStartsOnReadOnlyRoot runs the image as the chart does (read-only root, uid
// 65532, every capability dropped, no writable HOME, no volume): each pod subcommand gets past
// package initialisation and prints its help. envtest's init, which created a folder and
// panicked on a read-only root, made every one of them fail here.
func TestEverySubcommandStartsOnReadOnlyRoot(t *testing.T) {
	rt := newRuntime(t, Cluster{})
	subs := podSubcommands()
	for _, want := range []string{"manager", "engine"} {
		if !slices.Contains(subs, want) {
			t.Fatalf("subcommands %v lack %s", subs, want)
		}
	}
	nonRoot, uid, readOnly := true, int64(ociimage.NonRootUID), true
	noEscalation := false
	for _, sub := range append(subs, "") {
		args := []string{"--help"}
		if sub != "" {
			args = []string{sub, "--help"}
		}
		t.Run("token-operator "+strings.Join(args, " "), func(t *testing.T) {
			c := corev1.Container{Name: "help", Args: args, SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot: &nonRoot, RunAsUser: &uid, RunAsGroup: &uid, ReadOnlyRootFilesystem: &readOnly,
				AllowPrivilegeEscalation: &noEscalation, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}}
			automount := false
			ctr := rt.Start(t, Pod{Namespace: "default", Name: "help", Spec: corev1.PodSpec{AutomountServiceAccountToken: &automount}}, c)
			select {
			case <-ctr.done:
			case <-time.After(60 * time.Second):
				t.Fatal("no exit within 60s")
			}
			out := ctr.Logs.String()
			if ctr.err != nil || !strings.Contains(out, "Usage:") || strings.Contains(out, "panic:") {
				t.Fatalf("exit %v, output:\n%s", ctr.err, out)
			}
		})
	}
}

// TestProductionBinaryLinksNoTestCode keeps test-only packages (envtest and what it brings, our
// test helpers) out of the binary: they may run code at init that a pod cannot.
func TestProductionBinaryLinksNoTestCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := regexp.MustCompile(`^testing$|/envtest$|^sigs\.k8s\.io/controller-runtime/pkg/internal/testing/|^github\.com/tokenops/token-operator/.*(test|testutil|testenv|fake)$`)
	for _, pkg := range strings.Fields(string(out)) {
		// client-go's fake-clientset plumbing (k8s.io/client-go/testing) comes with every typed
		// client and has no init side effects.
		if pkg == "k8s.io/client-go/testing" {
			continue
		}
		if forbidden.MatchString(pkg) {
			t.Errorf("the production binary links %s", pkg)
		}
	}
}

// TestImage checks what the image promises: the Dockerfile's user, entrypoint and paths, OCI
// labels, a CA bundle that parses, nonroot in /etc/passwd, and the same digest from the same inputs.
func TestImage(t *testing.T) {
	fs, cfg := image(t)
	if cfg.User != ociimage.User || !slices.Equal(cfg.Entrypoint, []string{ociimage.BinaryPath}) || !slices.Equal(cfg.Cmd, []string{ociimage.DefaultCommand}) {
		t.Errorf("config: user %q entrypoint %q cmd %q", cfg.User, cfg.Entrypoint, cfg.Cmd)
	}
	for _, l := range []string{ociimage.LabelSource, ociimage.LabelRevision, ociimage.LabelVersion} {
		if cfg.Labels[l] == "" {
			t.Errorf("label %s is empty", l)
		}
	}

	// The Dockerfile's image is the same where a Dockerfile can say it.
	df, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"USER " + cfg.User,
		fmt.Sprintf(`ENTRYPOINT [%q]`, cfg.Entrypoint[0]),
		fmt.Sprintf(`CMD [%q]`, cfg.Cmd[0]),
		"COPY --from=build /out/token-operator " + ociimage.BinaryPath,
	} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q, which the image built by make image has", want)
		}
	}
	for _, l := range []string{ociimage.LabelSource, ociimage.LabelRevision, ociimage.LabelVersion} {
		if !strings.Contains(string(df), l+"=") {
			t.Errorf("Dockerfile does not set label %s", l)
		}
	}

	passwd, err := os.ReadFile(filepath.Join(fs, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot 65532: %v %q", err, passwd)
	}
	certs, err := os.ReadFile(filepath.Join(fs, ociimage.CACertsPath))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, rest := pem.Decode(certs); b != nil; b, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle has %d certificates", n)
	}
	if st, err := os.Stat(filepath.Join(fs, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("/tmp is not 1777: %v %v", st.Mode(), err)
	}

	// Reproducible: the same binary and options give the same digest.
	bin := filepath.Join(fs, ociimage.BinaryPath)
	o := ociimage.Options{Binary: bin, OS: "linux", Architecture: "amd64", Revision: "r", Version: "v", Created: time.Unix(1700000000, 0)}
	a, err := ociimage.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ociimage.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds from the same inputs: %s and %s", da, db)
	}
	o.Revision = "other"
	c, err := ociimage.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := c.Digest(); dc == da {
		t.Error("another revision label gave the same digest")
	}
}

// workload is the pod template of a rendered Deployment or StatefulSet.
type workload struct {
	kind, namespace, name string
	pod                   corev1.PodSpec
	claims                []string // volumeClaimTemplates
}

// manifests holds the objects of a rendered stream this suite runs or routes to.
type manifests struct {
	workloads []workload
	services  []string // DNS names of the Services
}

func parseManifests(t *testing.T, stream, defaultNamespace string) manifests {
	t.Helper()
	var m manifests
	for _, doc := range strings.Split(stream, "\n---") {
		var head struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		ns := head.Metadata.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		switch head.Kind {
		case "Deployment":
			var d appsv1.Deployment
			mustUnmarshal(t, doc, &d)
			m.workloads = append(m.workloads, workload{kind: "Deployment", namespace: ns, name: d.Name, pod: d.Spec.Template.Spec})
		case "StatefulSet":
			var s appsv1.StatefulSet
			mustUnmarshal(t, doc, &s)
			w := workload{kind: "StatefulSet", namespace: ns, name: s.Name, pod: s.Spec.Template.Spec}
			for _, c := range s.Spec.VolumeClaimTemplates {
				w.claims = append(w.claims, c.Name)
			}
			m.workloads = append(m.workloads, w)
		case "Service":
			n := head.Metadata.Name
			m.services = append(m.services, n+"."+ns, n+"."+ns+".svc", n+"."+ns+".svc.cluster.local")
		}
	}
	return m
}

func mustUnmarshal(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

// cluster is what the pods see of the test's control plane.
func clusterFor(t *testing.T, host string, ca []byte, cs kubernetes.Interface, services []string) Cluster {
	t.Helper()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	return Cluster{
		APIHost: u.Hostname(), APIPort: u.Port(), CA: ca, Hosts: services,
		Secret: func(ns, name string) (map[string][]byte, error) {
			s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
		SAToken: func(ns, name string) (string, error) {
			tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
				&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
			if err != nil {
				return "", fmt.Errorf("TokenRequest for %s/%s: %w", ns, name, err)
			}
			return tr.Status.Token, nil
		},
	}
}

// runWorkloads starts every container of every workload (engines first: the manager checks the
// engine as soon as it starts) and waits for each readiness probe.
func runWorkloads(t *testing.T, rt *Runtime, m manifests) map[string]*Container {
	t.Helper()
	started := map[string]*Container{}
	for _, kind := range []string{"StatefulSet", "Deployment"} {
		for _, w := range m.workloads {
			if w.kind != kind {
				continue
			}
			p := Pod{Namespace: w.namespace, Name: w.name, Spec: w.pod, Claims: map[string]string{}}
			if kind == "StatefulSet" {
				p.Name = w.name + "-0"
			}
			for _, c := range w.claims {
				p.Claims[c] = t.TempDir()
			}
			if len(w.pod.InitContainers) > 0 {
				t.Fatalf("%s/%s has init containers, which this suite does not run", kind, w.name)
			}
			for _, c := range w.pod.Containers {
				ctr := rt.Start(t, p, c)
				ctr.WaitReady(t, 60*time.Second)
				ctr.AssertContract(t, p)
				started[w.name+"/"+c.Name] = ctr
			}
		}
	}
	return started
}

// assertTokenServed creates a DatabaseToken in a new namespace, waits for Ready through the
// containers, and checks the engine container accepts the Secret's token.
func assertTokenServed(t *testing.T, kubectl func(stdin string, args ...string) string, enginePort int) string {
	t.Helper()
	kubectl("", "create", "namespace", "apps")
	// The default ClusterTokenEngine (chart and config/engine) serves no namespace until it is
	// told which (issue 16: secure by default).
	kubectl("", "patch", "clustertokenengine", "default", "--type=merge", "-p", `{"spec":{"allowedNamespaces":{"matchNames":["apps"]}}}`)
	kubectl(`apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: writer, namespace: apps}
spec:
  permissions: [{databases: [telemetry], actions: [write]}]
`, "apply", "-f", "-")
	kubectl("", "wait", "--for=condition=Ready", "--timeout=90s", "clustertokenengine/default")
	kubectl("", "wait", "--for=condition=Ready", "--timeout=90s", "-n", "apps", "databasetoken/writer")
	tok := kubectl("", "get", "secret", "writer", "-n", "apps", "-o", "jsonpath={.data.token}")
	plainBytes, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		db   string
		want int
	}{{"telemetry", http.StatusNoContent}, {"other", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/v3/authorize?db=%s&action=write", enginePort, tc.db), nil)
		req.Header.Set("Authorization", "Bearer "+string(plainBytes))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("engine container: the minted token writing %s: %d, want %d", tc.db, resp.StatusCode, tc.want)
		}
	}
	return string(plainBytes)
}

// upstreamToken is InfluxDB's own token in the gateway test: only the gateway holds it.
const upstreamToken = "apiv3_upstream-admin-token-held-by-the-gateway-only"

// assertGatewayForwards writes through the gateway container with the minted write token for
// telemetry: the write reaches InfluxDB with InfluxDB's token and not the client's, and a write
// to another database never reaches it.
func assertGatewayForwards(t *testing.T, upstream *testenv.Recorder, token string) {
	t.Helper()
	const line = "cpu,host=a usage=1 1700000000000000000\n"
	send := func(db string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8182/api/v3/write_lp?db="+db, strings.NewReader(line))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	upstream.Take()
	if code := send("telemetry"); code != http.StatusNoContent {
		t.Errorf("write to telemetry through the gateway: %d, want 204", code)
	}
	got := upstream.Take()
	if len(got) != 1 || got[0].URI != "/api/v3/write_lp?db=telemetry" || got[0].Body != line || got[0].Auth != "Token "+upstreamToken {
		t.Errorf("InfluxDB received %+v, want one write of the line with the upstream token", got)
	}
	for _, g := range got {
		if strings.Contains(g.Auth+g.URI, token) {
			t.Error("the client's token reached InfluxDB")
		}
	}
	if code := send("other"); code != http.StatusForbidden {
		t.Errorf("write to other through the gateway: %d, want 403", code)
	}
	if got := upstream.Take(); len(got) != 0 {
		t.Errorf("a write the token may not make reached InfluxDB: %+v", got)
	}
}

// TestHelmChartPodsUnderRunc renders the chart (defaults, and persistence off), installs it, runs
// the engine StatefulSet's and the manager Deployment's containers under runc with the rendered
// command, env, securityContext and volumes, waits for each readiness probe, and has the manager
// mint a token through the engine container, as the chart's ServiceAccount, resolving the engine
// by its Service name.
func TestHelmChartPodsUnderRunc(t *testing.T) {
	runcBinary(t)
	helm := testenv.Helm(t)
	upstream := testenv.NewRecorder(t)
	for _, tc := range []struct {
		name    string
		set     []string
		gateway bool
	}{
		{name: "defaults"},
		{name: "persistence off", set: []string{"--set", "engine.persistence.enabled=false"}},
		{name: "gateway", gateway: true, set: []string{"--set", "gateway.enabled=true", "--set", "gateway.replicas=1",
			"--set", "gateway.upstream=" + upstream.URL, "--set", "gateway.upstreamTokenSecret.name=influxdb-token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg, kc := testenv.StartEnv(t, false)
			const ns = "token-operator"
			kubectl := func(stdin string, args ...string) string { return testenv.RunKubectl(t, kc, stdin, args...) }
			home := t.TempDir()
			helmCmd := func(args ...string) string {
				cmd := exec.Command(helm, args...)
				cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HELM_CACHE_HOME="+home+"/c", "HELM_CONFIG_HOME="+home+"/f", "HELM_DATA_HOME="+home+"/d")
				cmd.Dir = testenv.RepoRoot()
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("helm %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			kubectl("", "create", "namespace", ns)
			if tc.gateway {
				kubectl("", "-n", ns, "create", "secret", "generic", "influxdb-token", "--from-literal=token="+upstreamToken)
			}
			helmCmd(append([]string{"install", "token-operator", "charts/token-operator", "-n", ns}, tc.set...)...)
			m := parseManifests(t, helmCmd("get", "manifest", "token-operator", "-n", ns), ns)
			if want := map[bool]int{false: 2, true: 3}[tc.gateway]; len(m.workloads) != want {
				t.Fatalf("want the manager Deployment, the engine StatefulSet and the gateway if enabled (%d), got %d workloads", want, len(m.workloads))
			}
			cs := kubernetes.NewForConfigOrDie(cfg)
			rt := newRuntime(t, clusterFor(t, cfg.Host, cfg.CAData, cs, m.services))
			runWorkloads(t, rt, m)
			token := assertTokenServed(t, kubectl, enginePort(t, m))
			assertMetricsNeedAToken(t, kubectl, cs, m)
			if tc.gateway {
				assertGatewayForwards(t, upstream, token)
			}
			// Leader election ran under the chart's Role, in the pod's namespace.
			kubectl("", "get", "lease", "-n", ns, "token-operator.tokens.tokenops.dev")
		})
	}
}

// TestKustomizePodsUnderRunc does the same for config/default and config/engine.
func TestKustomizePodsUnderRunc(t *testing.T) {
	runcBinary(t)
	_, cfg, kc := testenv.StartEnv(t, false)
	kubectl := func(stdin string, args ...string) string { return testenv.RunKubectl(t, kc, stdin, args...) }
	kubectl("", "apply", "-k", "config/default")
	kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	// config/engine needs its admin Secret first (config/engine/kustomization.yaml says how).
	tok := "apiv3_" + strings.Repeat("k", 86)
	kubectl("", "-n", "token-operator", "create", "secret", "generic", "token-engine-admin",
		"--from-literal=token="+tok, `--from-literal=admin-token.json={"token":"`+tok+`"}`)
	kubectl("", "apply", "-k", "config/engine")
	stream := kubectl("", "kustomize", "config/default") + "\n---\n" + kubectl("", "kustomize", "config/engine")
	m := parseManifests(t, stream, "token-operator")
	cs := kubernetes.NewForConfigOrDie(cfg)
	rt := newRuntime(t, clusterFor(t, cfg.Host, cfg.CAData, cs, m.services))
	runWorkloads(t, rt, m)
	assertTokenServed(t, kubectl, enginePort(t, m))
	assertMetricsNeedAToken(t, kubectl, cs, m)
}

// assertMetricsNeedAToken scrapes the manager container's metrics port as the chart and
// config/default serve it (--metrics-secure): no token gets 401, a token without the
// metrics-reader ClusterRole 403, a ServiceAccount bound to it the metrics.
func assertMetricsNeedAToken(t *testing.T, kubectl func(stdin string, args ...string) string, cs kubernetes.Interface, m manifests) {
	t.Helper()
	port := 0
	for _, w := range m.workloads {
		if w.kind == "Deployment" && w.name == "token-operator" {
			p, err := resolvePort(w.pod.Containers[0], intstr.FromString("metrics"))
			if err != nil {
				t.Fatal(err)
			}
			port = p
		}
	}
	if port == 0 {
		t.Fatal("no manager Deployment with a metrics port")
	}
	// The certificate is self-signed and made in memory; the token is what is checked.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
	scrape := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", port), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("scraping the manager over HTTPS: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("metrics without a token: %d, want 401", code)
	}
	kubectl("", "create", "namespace", "monitoring")
	kubectl("", "-n", "monitoring", "create", "serviceaccount", "prometheus")
	tr, err := cs.CoreV1().ServiceAccounts("monitoring").CreateToken(context.Background(), "prometheus",
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := scrape(tr.Status.Token); code != http.StatusForbidden {
		t.Errorf("metrics with a token not bound to the metrics reader role: %d, want 403", code)
	}
	kubectl("", "create", "clusterrolebinding", "prometheus-token-operator-metrics",
		"--clusterrole=token-operator-metrics-reader", "--serviceaccount=monitoring:prometheus")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := scrape(tr.Status.Token)
		if code == http.StatusOK && strings.Contains(body, "token_operator_") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics as the bound ServiceAccount: %d, want 200 with token_operator_ metrics", code)
		}
		// The manager caches SubjectAccessReview answers briefly.
		time.Sleep(time.Second)
	}
}

// enginePort is the engine container's port named http.
func enginePort(t *testing.T, m manifests) int {
	t.Helper()
	for _, w := range m.workloads {
		if w.kind == "StatefulSet" {
			p, err := resolvePort(w.pod.Containers[0], intstr.FromString("http"))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatal("no engine StatefulSet")
	return 0
}
