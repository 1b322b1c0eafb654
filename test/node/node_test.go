// Package node runs the product the way users do, on a real single-node cluster (internal/testnode,
// docs/node.md): `helm install` of the chart with the image `make image` built, a workload that
// mounts a token's Secret and uses the token against the engine through its Service, a rotation
// seen through the kubelet's refresh of the mount, rollout restarts, `helm upgrade`,
// `helm uninstall` and `kubectl apply -k config/default`. Everything is asserted from outside:
// kubectl, helm, the API and the workload's own output.
package node

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tokensv1alpha1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/ociimage"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testnode"
)

const (
	release     = "token-operator"
	releaseNS   = "token-operator"
	appNS       = "app"
	tokenName   = "app-reader"
	secretName  = "app-token"
	database    = "appdb"
	engineName  = "token-engine"
	adminSecret = "token-engine-admin"
	// mounted relies on the kubelet refreshing its Secret volume; restarted is a rollout-restart
	// target and gets a new pod whenever the token changes.
	mounted   = "mounted"
	restarted = "restarted"

	workloadPackage = "github.com/tokenops/token-operator/test/node/workload"
	workloadImage   = "tokenops.test/workload:1"
	// rotationExpiry and rotationRenewBefore: a renewal about a minute after the mint, and a
	// predecessor that stays valid 2m more, as long as the default rotation.overlap: the kubelet
	// resyncs a pod every syncFrequency (1m) with up to 50% jitter, so its refresh of a mounted
	// Secret can take 90s (docs/node.md).
	rotationExpiry      = "3m"
	rotationRenewBefore = "2m"
	// refreshWindow is how long each predecessor stays valid after the Secret changed.
	refreshWindow = 2 * time.Minute
)

func TestMain(m *testing.M) {
	// The test's clients log nothing worth reading; controller-runtime warns when no logger is set.
	logf.SetLogger(logr.Discard())
	os.Exit(testenv.RunTests(m))
}

// env is what the steps share.
type env struct {
	n    *testnode.Node
	cs   kubernetes.Interface
	c    client.Client
	helm string
	// tokens maps each fingerprint the workloads print to the revision it was minted as.
	tokens map[string]int64
}

// TestUserPath is the list, in order; a step that fails stops the ones after it.
func TestUserPath(t *testing.T) {
	helm := testenv.Helm(t)
	n := testnode.Start(t)
	images := t.TempDir()
	n.ImportImage(t, operatorImage(t, images))
	wl, err := testnode.BuildGoImage(testenv.RepoRoot(), workloadPackage, workloadImage, images)
	if err != nil {
		t.Fatal(err)
	}
	n.ImportImage(t, wl)
	e := &env{n: n, cs: n.Client, c: testenv.Client(t, n.Config), helm: helm, tokens: map[string]int64{}}
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"helm install: pods Ready, lease held, engine Ready through its Service DNS name, PVC bound", e.install},
		{"a workload mounts the token's Secret and the engine accepts the token", e.workload},
		{"rotation: the mounted file follows within the overlap, never a revoked token", e.rotation},
		{"rolloutRestartTargets restarts the Deployment's pods", e.rolloutRestart},
		{"helm upgrade keeps the tokens and the admin token", e.upgrade},
		{"engine.store=kubernetes: 3 TLS replicas serve the migrated tokens, a replica deleted under load costs no request", e.engineHA},
		{"helm uninstall leaves what docs/install-helm.md lists", e.uninstall},
		{"kubectl apply -k config/default runs the manager on the node", e.kustomize},
	} {
		if !t.Run(step.name, step.run) {
			return
		}
	}
}

// operatorImage is $TOKEN_OPERATOR_IMAGE (`make image`, exported by the Makefile) or, outside
// make, an image built the same way and named as the chart's default image.
func operatorImage(t *testing.T, dir string) string {
	if p := os.Getenv("TOKEN_OPERATOR_IMAGE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TOKEN_OPERATOR_IMAGE=%s: %v (run `make image`)", p, err)
		}
		return p
	}
	chart, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "token-operator", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?`).FindSubmatch(chart)
	if m == nil {
		t.Fatal("Chart.yaml has no appVersion")
	}
	bin := filepath.Join(dir, "token-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+string(m[1]), "-o", bin, ".")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	img, err := ociimage.Build(ociimage.Options{Binary: bin, OS: "linux", Architecture: runtime.GOARCH,
		Source: "https://github.com/tokenops/token-operator", Version: string(m[1]), Created: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("ghcr.io/tokenops/token-operator:" + string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "token-operator-image.tar")
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return testenv.RunKubectl(t, e.n.Kubeconfig, stdin, args...)
}

func (e *env) runHelm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(e.helm, append(args, "--kubeconfig", e.n.Kubeconfig)...)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// eventually retries check every second until it returns nil, failing with its last error after
// timeout (or at once when a node component has exited).
func (e *env) eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if ferr := e.n.Failed(); ferr != nil {
			t.Fatalf("%s: %v", what, ferr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// install installs the chart with a hostPath PV behind a default no-provisioner StorageClass (the
// node has no dynamic provisioner; docs/node.md), the engine serving namespace app, and rollout
// restarts on.
func (e *env) install(t *testing.T) {
	ctx := t.Context()
	vol := filepath.Join(e.n.Dir, "volumes", "engine")
	if err := os.MkdirAll(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	// hostPath volumes ignore fsGroup: the engine (uid 65532) must own its folder.
	if err := os.Chown(vol, ociimage.NonRootUID, ociimage.NonRootUID); err != nil {
		t.Fatal(err)
	}
	e.kubectl(t, fmt.Sprintf(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: engine-data}
spec:
  storageClassName: local
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: %q, type: Directory}
`, vol), "apply", "-f", "-")
	start := time.Now()
	e.runHelm(t, "install", release, "charts/token-operator", "--namespace", releaseNS, "--create-namespace",
		"--set", "engine.clusterTokenEngine.allowedNamespaces.matchNames={"+appNS+"}",
		"--set", "rolloutRestarts.enabled=true", "--wait", "--timeout", "5m")
	t.Logf("helm install --wait returned after %s", time.Since(start).Round(time.Second))

	pods := e.readyPods(t, releaseNS, "app.kubernetes.io/instance="+release, 2)
	var manager string
	for _, p := range pods {
		if strings.HasPrefix(p.Name, release+"-") {
			manager = p.Name
		}
	}
	if manager == "" {
		t.Fatalf("no manager pod among %v", podNames(pods))
	}
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(releaseNS).Get(ctx, "data-"+engineName+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != "engine-data" {
		t.Fatalf("PVC %s: phase %s, volume %q; want Bound to engine-data", pvc.Name, pvc.Status.Phase, pvc.Spec.VolumeName)
	}
	e.eventually(t, time.Minute, "the manager holds the leader lease", func() error {
		leases, err := e.cs.CoordinationV1().Leases(releaseNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, l := range leases.Items {
			if l.Spec.HolderIdentity != nil && strings.HasPrefix(*l.Spec.HolderIdentity, manager) {
				t.Logf("lease %s held by %s", l.Name, *l.Spec.HolderIdentity)
				return nil
			}
		}
		return fmt.Errorf("no lease in %s held by %s (%d leases)", releaseNS, manager, len(leases.Items))
	})
	// The manager reaches the engine at http://token-engine.token-operator.svc:8181: cluster DNS,
	// then kube-proxy's Service routing.
	e.eventually(t, 2*time.Minute, "ClusterTokenEngine default Ready", func() error {
		var cte tokensv1alpha1.ClusterTokenEngine
		if err := e.c.Get(ctx, client.ObjectKey{Name: "default"}, &cte); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(cte.Status.Conditions, tokensv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready: %+v (url %s)", c, cte.Spec.InfluxDB3.URL)
		}
		return nil
	})
}

// readyPods waits for want pods matching selector, each Running with every container Ready,
// and returns them.
func (e *env) readyPods(t *testing.T, ns, selector string, want int) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	e.eventually(t, 3*time.Minute, fmt.Sprintf("%d Ready pods %s in %s", want, selector, ns), func() error {
		pods, err := e.cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		out = out[:0]
		var states []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			states = append(states, podState(p))
			if p.Status.Phase == corev1.PodRunning && allReady(p) {
				out = append(out, p)
			}
		}
		if len(out) != want || len(states) != want {
			return fmt.Errorf("pods: %s", strings.Join(states, "; "))
		}
		return nil
	})
	return out
}

func allReady(p corev1.Pod) bool {
	if len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	return true
}

func podState(p corev1.Pod) string {
	s := fmt.Sprintf("%s %s", p.Name, p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		s += fmt.Sprintf(" %s ready=%v restarts=%d", c.Name, c.Ready, c.RestartCount)
		if c.State.Waiting != nil {
			s += " waiting " + c.State.Waiting.Reason + ": " + c.State.Waiting.Message
		}
		if c.LastTerminationState.Terminated != nil {
			s += fmt.Sprintf(" last exit %d %s", c.LastTerminationState.Terminated.ExitCode, c.LastTerminationState.Terminated.Reason)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf(" %s: %s", c.Type, c.Message)
		}
	}
	return s
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// fingerprint names a token the way the workload prints it.
func fingerprint(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:6])
}

// workload creates the rotating DatabaseToken and two Deployments mounting its Secret: mounted
// (refreshed by the kubelet) and restarted (a rollout restart target that opted in).
func (e *env) workload(t *testing.T) {
	e.kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  permissions:
  - {databases: [%[4]s], actions: [read]}
  expiresAfter: %[5]s
  rotation: {renewBefore: %[6]s}
  secret:
    name: %[3]s
    extraKeys: {url: "{{ .EngineURL }}"}
    rolloutRestartTargets: [{kind: Deployment, name: %[7]s}]
`, appNS, tokenName, secretName, database, rotationExpiry, rotationRenewBefore, restarted), "apply", "-f", "-")
	for _, d := range []string{mounted, restarted} {
		annotations := "{}"
		if d == restarted {
			annotations = fmt.Sprintf("{%s: %s}", tokensv1alpha1.RestartOnAnnotation, tokenName)
		}
		e.kubectl(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s, annotations: %[6]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      terminationGracePeriodSeconds: 1
      containers:
      - name: workload
        image: %[3]s
        imagePullPolicy: Never
        args: [--database=%[4]s]
        volumeMounts: [{name: token, mountPath: /var/run/token, readOnly: true}]
      volumes:
      - name: token
        secret: {secretName: %[5]s}
`, d, appNS, workloadImage, database, secretName, annotations), "apply", "-f", "-")
	}
	e.waitTokenReady(t)
	tok := e.secretToken(t)
	for _, d := range []string{mounted, restarted} {
		pod := e.readyPods(t, appNS, "app="+d, 1)[0]
		e.eventually(t, time.Minute, d+" reports the Secret's token accepted", func() error {
			lines := e.workloadLines(t, pod.Name)
			if len(lines) > 0 && lines[len(lines)-1].text == "ok fp="+fingerprint(tok) {
				return nil
			}
			return fmt.Errorf("%s says %v, want ok fp=%s", pod.Name, lines, fingerprint(tok))
		})
	}
}

// waitTokenReady waits for the DatabaseToken's Ready=True and returns it.
func (e *env) waitTokenReady(t *testing.T) *tokensv1alpha1.DatabaseToken {
	t.Helper()
	var dt tokensv1alpha1.DatabaseToken
	e.eventually(t, 2*time.Minute, "DatabaseToken "+tokenName+" Ready", func() error {
		if err := e.c.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: tokenName}, &dt); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(dt.Status.Conditions, tokensv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready: %+v", c)
		}
		return nil
	})
	return &dt
}

func (e *env) secretToken(t *testing.T) []byte {
	t.Helper()
	s, err := e.cs.CoreV1().Secrets(appNS).Get(t.Context(), secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data["token"]
}

// line is one line the workload printed.
type line struct {
	at   time.Time
	text string
}

func (e *env) workloadLines(t *testing.T, pod string) []line {
	t.Helper()
	raw, err := e.cs.CoreV1().Pods(appNS).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(t.Context())
	if err != nil {
		t.Fatalf("logs of %s: %v: %s", pod, err, raw)
	}
	var out []line
	s := bufio.NewScanner(strings.NewReader(string(raw)))
	for s.Scan() {
		at, text, ok := strings.Cut(s.Text(), " ")
		ts, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil {
			continue
		}
		out = append(out, line{at: ts, text: text})
	}
	return out
}

// rotation renews the token (expiresAfter 3m, renewBefore 2m) and changes its spec, and measures
// when the mounted file shows each successor: the predecessor stays valid 2m after a renewal (until
// its expiry) and rotation.overlap (2m) after a spec change, so the workload must switch within
// those, and it must never hold a token the engine refuses.
func (e *env) rotation(t *testing.T) {
	ctx := t.Context()
	pod := e.readyPods(t, appNS, "app="+mounted, 1)[0]
	first := e.secretToken(t)

	// The renewal.
	renewed, wroteAt := e.waitSecretChange(t, first, 3*time.Minute)
	delay := e.waitWorkloadHolds(t, pod.Name, renewed, wroteAt, refreshWindow)
	t.Logf("renewal: the kubelet refreshed the mounted Secret %s after the Secret changed (the predecessor stays valid %s more)", delay.Round(100*time.Millisecond), refreshWindow)

	// A spec change: a second database, and an expiry long enough for the rest of the test.
	var dt tokensv1alpha1.DatabaseToken
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: tokenName}, &dt); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(dt.DeepCopy())
	dt.Spec.Permissions[0].Databases = append(dt.Spec.Permissions[0].Databases, "other")
	long := tokensv1alpha1.Duration("1h")
	dt.Spec.ExpiresAfter = &long
	if err := e.c.Patch(ctx, &dt, patch); err != nil {
		t.Fatal(err)
	}
	changed, wroteAt := e.waitSecretChange(t, renewed, time.Minute)
	delay2 := e.waitWorkloadHolds(t, pod.Name, changed, wroteAt, refreshWindow)
	t.Logf("spec change: the kubelet refreshed the mounted Secret %s after the Secret changed (rotation.overlap: 2m)", delay2.Round(100*time.Millisecond))

	// The spec change's predecessor is revoked after the overlap; the workload must not notice.
	e.eventually(t, 3*time.Minute, "the predecessors revoked", func() error {
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: tokenName}, &dt); err != nil {
			return err
		}
		if n := len(dt.Status.Previous); n > 0 {
			return fmt.Errorf("%d predecessors still listed, the first revoked at %v", n, dt.Status.Previous[0].RevokeAt)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	lines := e.workloadLines(t, pod.Name)
	for _, l := range lines {
		if !strings.HasPrefix(l.text, "ok ") {
			t.Errorf("the workload held a token the engine refused or could not check: %s %s", l.at.Format(time.RFC3339Nano), l.text)
		}
	}
	if last := lines[len(lines)-1].text; last != "ok fp="+fingerprint(changed) {
		t.Errorf("the workload's last word is %q, want ok fp=%s", last, fingerprint(changed))
	}
}

// waitSecretChange waits for the Secret's token to differ from old and returns it and when this
// test saw it change (the same host clock as the workload's).
func (e *env) waitSecretChange(t *testing.T, old []byte, timeout time.Duration) ([]byte, time.Time) {
	t.Helper()
	var tok []byte
	deadline := time.Now().Add(timeout)
	for {
		s, err := e.cs.CoreV1().Secrets(appNS).Get(t.Context(), secretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tok = s.Data["token"]; len(tok) > 0 && string(tok) != string(old) {
			return tok, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Secret still holds fp=%s after %s", fingerprint(old), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitWorkloadHolds waits for the workload to print ok for tok and returns how long after since
// it first did.
func (e *env) waitWorkloadHolds(t *testing.T, pod string, tok []byte, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	want := "ok fp=" + fingerprint(tok)
	var at time.Time
	e.eventually(t, within+10*time.Second, pod+" holds the new token", func() error {
		for _, l := range e.workloadLines(t, pod) {
			if l.text == want {
				at = l.at
				return nil
			}
		}
		return fmt.Errorf("%s never printed %q", pod, want)
	})
	if d := at.Sub(since); d > within {
		t.Errorf("the kubelet refreshed the mount %s after the Secret changed; the predecessor is valid only %s", d, within)
	}
	return at.Sub(since)
}

// rolloutRestart checks that each token change replaced the restarted Deployment's pod, whose
// new pod starts with the current token.
func (e *env) rolloutRestart(t *testing.T) {
	ctx := t.Context()
	d, err := e.cs.AppsV1().Deployments(appNS).Get(ctx, restarted, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Spec.Template.Annotations[tokensv1alpha1.RestartedAtAnnotation]
	if got == "" {
		t.Fatalf("the pod template of %s has no %s annotation", restarted, tokensv1alpha1.RestartedAtAnnotation)
	}
	e.eventually(t, 2*time.Minute, restarted+" rolled out", func() error {
		d, err = e.cs.AppsV1().Deployments(appNS).Get(ctx, restarted, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != 1 || d.Status.AvailableReplicas != 1 || d.Status.Replicas != 1 {
			return fmt.Errorf("status %+v", d.Status)
		}
		return nil
	})
	if d.Generation < 3 {
		t.Errorf("%s is at generation %d: a renewal and a spec change should each have restarted it", restarted, d.Generation)
	}
	pod := e.readyPods(t, appNS, "app="+restarted, 1)[0]
	want := "ok fp=" + fingerprint(e.secretToken(t))
	e.eventually(t, 30*time.Second, "the restarted pod holds the current token", func() error {
		lines := e.workloadLines(t, pod.Name)
		if len(lines) == 0 || lines[0].text != want {
			return fmt.Errorf("%s printed %v first, want %s", pod.Name, lines, want)
		}
		return nil
	})
	t.Logf("%s at generation %d, restartedAt %s, pod %s", restarted, d.Generation, got, pod.Name)
}

// upgrade runs `helm upgrade` with a changed value (the manager's log level), which rolls the
// manager: the admin token and the workload's token stay.
func (e *env) upgrade(t *testing.T) {
	ctx := t.Context()
	admin, err := e.cs.CoreV1().Secrets(releaseNS).Get(ctx, adminSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.secretToken(t)
	before := e.waitTokenReady(t)
	e.runHelm(t, "upgrade", release, "charts/token-operator", "--namespace", releaseNS, "--reuse-values",
		"--set", "logLevel=debug", "--wait", "--timeout", "5m")
	e.readyPods(t, releaseNS, "app.kubernetes.io/instance="+release, 2)
	after, err := e.cs.CoreV1().Secrets(releaseNS).Get(ctx, adminSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(after.Data["token"]) != string(admin.Data["token"]) {
		t.Errorf("helm upgrade changed the admin token (fp %s -> %s)", fingerprint(admin.Data["token"]), fingerprint(after.Data["token"]))
	}
	// Give the new manager a reconcile, then the token must be the same revision.
	e.eventually(t, time.Minute, "the new manager reconciled "+tokenName, func() error {
		dt := e.waitTokenReady(t)
		if dt.Status.Current == nil || before.Status.Current == nil || dt.Status.Current.TokenName != before.Status.Current.TokenName {
			return fmt.Errorf("status.current %+v, before %+v", dt.Status.Current, before.Status.Current)
		}
		return nil
	})
	if got := e.secretToken(t); string(got) != string(tok) {
		t.Errorf("helm upgrade replaced the workload's token (fp %s -> %s)", fingerprint(tok), fingerprint(got))
	}
	pod := e.readyPods(t, appNS, "app="+mounted, 1)[0]
	lines := e.workloadLines(t, pod.Name)
	if last := lines[len(lines)-1].text; last != "ok fp="+fingerprint(tok) {
		t.Errorf("after the upgrade the workload says %q", last)
	}
}

// uninstall checks docs/install-helm.md's table: the CRDs, the admin Secret, the PVC, the token
// resources and their Secrets stay; the release's workloads, Services and ClusterTokenEngine go.
func (e *env) uninstall(t *testing.T) {
	ctx := t.Context()
	e.runHelm(t, "uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "3m")
	e.eventually(t, 2*time.Minute, "the release's pods gone", func() error {
		pods, err := e.cs.CoreV1().Pods(releaseNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		if err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("still %v", podNames(pods.Items))
		}
		return nil
	})
	kept := []struct {
		what string
		get  func() error
	}{
		{"Secret " + adminSecret, func() error {
			_, err := e.cs.CoreV1().Secrets(releaseNS).Get(ctx, adminSecret, metav1.GetOptions{})
			return err
		}},
		{"PVC data-" + engineName + "-0", func() error {
			_, err := e.cs.CoreV1().PersistentVolumeClaims(releaseNS).Get(ctx, "data-"+engineName+"-0", metav1.GetOptions{})
			return err
		}},
		{"DatabaseToken " + tokenName, func() error {
			return e.c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: tokenName}, &tokensv1alpha1.DatabaseToken{})
		}},
		{"Secret " + secretName, func() error {
			_, err := e.cs.CoreV1().Secrets(appNS).Get(ctx, secretName, metav1.GetOptions{})
			return err
		}},
	}
	for _, k := range kept {
		if err := k.get(); err != nil {
			t.Errorf("%s not kept: %v", k.what, err)
		}
	}
	out := e.kubectl(t, "", "get", "crd", "-o", "name")
	for _, crd := range []string{"databasetokens", "systemtokens", "tokenengines", "clustertokenengines"} {
		if !strings.Contains(out, crd+".tokens.tokenops.dev") {
			t.Errorf("CRD %s not kept: %s", crd, out)
		}
	}
	gone := e.kubectl(t, "", "get", "deployments,statefulsets,services,serviceaccounts", "-n", releaseNS, "-l", "app.kubernetes.io/instance="+release, "-o", "name")
	if strings.TrimSpace(gone) != "" && !strings.Contains(gone, "No resources") {
		t.Errorf("helm uninstall left %s", gone)
	}
	if err := e.c.Get(ctx, client.ObjectKey{Name: "default"}, &tokensv1alpha1.ClusterTokenEngine{}); err == nil {
		t.Error("helm uninstall left the ClusterTokenEngine default")
	}
}

// kustomize applies config/default through an overlay that sets the image, as a user of
// kustomize does (config/manager names token-operator:latest, which no registry here serves),
// and waits for the manager to run and lead.
func (e *env) kustomize(t *testing.T) {
	ctx := t.Context()
	tag := e.imageTag(t)
	overlay := filepath.Join(t.TempDir(), "overlay")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Rel(overlay, filepath.Join(testenv.RepoRoot(), "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	kust := fmt.Sprintf("resources: [%s]\nimages:\n- {name: token-operator, newName: ghcr.io/tokenops/token-operator, newTag: %q}\n", base, tag)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	e.kubectl(t, "", "apply", "-k", overlay)
	var d *appsv1.Deployment
	e.eventually(t, 3*time.Minute, "the kustomize manager Available", func() error {
		list, err := e.cs.AppsV1().Deployments(releaseNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=token-operator"})
		if err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d Deployments", len(list.Items))
		}
		d = &list.Items[0]
		if d.Status.AvailableReplicas < 1 {
			pods, _ := e.cs.CoreV1().Pods(releaseNS).List(ctx, metav1.ListOptions{})
			var states []string
			for _, p := range pods.Items {
				states = append(states, podState(p))
			}
			return fmt.Errorf("%s: %d available; pods: %s", d.Name, d.Status.AvailableReplicas, strings.Join(states, "; "))
		}
		return nil
	})
	t.Logf("config/default: Deployment %s available", d.Name)
}

// imageTag is the tag the chart's default image has in the node (its appVersion).
func (e *env) imageTag(t *testing.T) string {
	out, err := e.n.Ctr("images", "list", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for ref := range strings.FieldsSeq(out) {
		if tag, ok := strings.CutPrefix(ref, "ghcr.io/tokenops/token-operator:"); ok {
			return tag
		}
	}
	t.Fatalf("no ghcr.io/tokenops/token-operator image in the node: %s", out)
	return ""
}
