// Package helm checks charts/token-operator with the real helm and kubectl: lint, the values
// schema, that its CRDs and RBAC equal the generated ones, that every rendered object passes the
// real kube-apiserver's validation, and install, upgrade and uninstall on the test API server.
package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/tokenops/token-operator/internal/testenv"
)

const (
	namespace = "token-operator"
	release   = "token-operator"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "charts", "token-operator")

// runner runs helm and kubectl against one kubeconfig, with helm's own state in a temp dir.
type runner struct {
	t                   *testing.T
	helm, kubectl, kube string
	env                 []string
}

func newRunner(t *testing.T, kubeconfig string) *runner {
	t.Helper()
	home := t.TempDir()
	r := &runner{t: t, helm: testenv.Helm(t), kube: kubeconfig}
	r.env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	if kubeconfig != "" {
		kc, err := testenv.Kubectl()
		if err != nil {
			t.Fatal(err)
		}
		r.kubectl = kc
		r.env = append(r.env, "KUBECONFIG="+kubeconfig)
	}
	return r
}

func (r *runner) run(stdin, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (r *runner) Helm(args ...string) string {
	r.t.Helper()
	out, err := r.run("", r.helm, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *runner) Kubectl(stdin string, args ...string) string {
	r.t.Helper()
	out, err := r.run(stdin, r.kubectl, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func TestLint(t *testing.T) {
	r := newRunner(t, "")
	out := r.Helm("lint", "--strict", chartDir)
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint:\n%s", out)
	}
	// The variants the tests below install must lint too.
	r.Helm("lint", "--strict", chartDir, "--set", "engine.enabled=false", "--set", "watchNamespaces={a,b}")
}

func TestSchemaRejectsBadValues(t *testing.T) {
	r := newRunner(t, "")
	for _, set := range []string{
		"replicas=two",
		"engine.enabld=true",                // a typo must not be ignored
		"image.pullPolicy=Sometimes",        // not a pull policy
		"engine.persistence.size=lots",      // not a quantity
		"watchNamespaces[0]=Not_A_Name",     // not a namespace name
		"metrics.port=8081",                 // the probes' port
		"engine.name=9engine",               // not a Service name
		"extraArgs[0]=max-concurrent=3",     // not a flag
		"metrics.serviceMonitor.interval=1", // not a duration
	} {
		if out, err := r.run("", r.helm, "template", release, chartDir, "--set", set); err == nil {
			t.Errorf("helm template --set %s succeeded, want a schema error:\n%.300s", set, out)
		}
	}
	if _, err := r.run("", r.helm, "template", release, chartDir, "--set", "replicas=2", "--set", "leaderElection.enabled=false"); err == nil {
		t.Error("replicas=2 without leader election rendered, want an error")
	}
}

// TestCRDsEqualGenerated: the chart's crds/ must be the files `make manifests` writes.
func TestCRDsEqualGenerated(t *testing.T) {
	gen, err := filepath.Glob(filepath.Join(testenv.CRDPath(), "*.yaml"))
	if err != nil || len(gen) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	chart, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	names := func(paths []string) (n []string) {
		for _, p := range paths {
			n = append(n, filepath.Base(p))
		}
		return n
	}
	if !slices.Equal(names(gen), names(chart)) {
		t.Fatalf("charts/token-operator/crds holds %v, config/crd/bases %v; run `make manifests`", names(chart), names(gen))
	}
	for _, p := range gen {
		want, _ := os.ReadFile(p)
		got, _ := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(p)))
		if !bytes.Equal(got, want) {
			t.Errorf("charts/token-operator/crds/%s differs from config/crd/bases; run `make manifests`", filepath.Base(p))
		}
	}
}

// objects splits a multi-document YAML stream into objects, skipping empty documents. Duplicate
// keys fail: the API server keeps one silently, other YAML tools refuse the document.
func objects(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		var o map[string]any
		if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out
}

func find(objs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

// rules returns the rules of the only object of kind in objs, normalised for comparison.
func rules(t *testing.T, objs []map[string]any, kind string) []string {
	t.Helper()
	found := find(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(found))
	}
	b, _ := json.Marshal(found[0]["rules"])
	var rs []rbacv1.PolicyRule
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		for _, s := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			sort.Strings(s)
		}
		out = append(out, fmt.Sprintf("%v %v %v", r.APIGroups, r.Resources, r.Verbs))
	}
	sort.Strings(out)
	return out
}

// TestRBACEqualsGenerated: the chart grants exactly what the +kubebuilder:rbac markers ask for
// (config/rbac/role.yaml, copied to the chart's files/role.yaml by `make manifests`): the
// ClusterRole, and the leader-election Role in the release namespace.
func TestRBACEqualsGenerated(t *testing.T) {
	want, _ := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if got, _ := os.ReadFile(filepath.Join(chartDir, "files", "role.yaml")); !bytes.Equal(got, want) {
		t.Error("charts/token-operator/files/role.yaml differs from config/rbac/role.yaml; run `make manifests`")
	}
	r := newRunner(t, "")
	rendered := objects(t, r.Helm("template", release, chartDir, "-n", namespace, "--set", "rolloutRestarts.enabled=true"))
	// Without rolloutRestarts.enabled (the default) the manager may not patch workloads.
	var managerRole []map[string]any
	for _, o := range objects(t, r.Helm("template", release, chartDir, "-n", namespace, "--show-only", "templates/rbac.yaml")) {
		if name, _ := o["metadata"].(map[string]any)["name"].(string); strings.HasSuffix(name, "-manager") {
			managerRole = append(managerRole, o)
		}
	}
	if rules := strings.Join(rules(t, managerRole, "ClusterRole"), "\n"); strings.Contains(rules, "deployments") {
		t.Errorf("the default ClusterRole grants workload access:\n%s", rules)
	}
	gen, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated := objects(t, string(gen))
	// The metrics-reader ClusterRole is for Prometheus, not the manager: it grants GET /metrics only.
	var manager []map[string]any
	for _, o := range rendered {
		name, _ := o["metadata"].(map[string]any)["name"].(string)
		if o["kind"] == "ClusterRole" && strings.HasSuffix(name, "-metrics-reader") {
			b, _ := json.Marshal(o["rules"])
			if string(b) != `[{"nonResourceURLs":["/metrics"],"verbs":["get"]}]` {
				t.Errorf("ClusterRole %s grants %s, want only GET /metrics", name, b)
			}
			continue
		}
		manager = append(manager, o)
	}
	rendered = manager
	for _, kind := range []string{"ClusterRole", "Role"} {
		if got, want := rules(t, rendered, kind), rules(t, generated, kind); !slices.Equal(got, want) {
			t.Errorf("chart %s rules:\n  %s\nconfig/rbac/role.yaml:\n  %s", kind, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestDeploymentHardening(t *testing.T) {
	r := newRunner(t, "")
	out := r.Helm("template", release, chartDir, "-n", namespace, "--set", "watchNamespaces={team-a,team-b}")
	objs := objects(t, out)
	// Both workloads run non-root, read-only, seccomp RuntimeDefault, no capabilities, no escalation.
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		w := find(objs, kind)
		if len(w) != 1 {
			t.Fatalf("want one %s, got %d", kind, len(w))
		}
		b, _ := json.Marshal(w[0])
		s := string(b)
		for _, want := range []string{`"runAsNonRoot":true`, `"readOnlyRootFilesystem":true`, `"seccompProfile":{"type":"RuntimeDefault"}`,
			`"drop":["ALL"]`, `"allowPrivilegeEscalation":false`, `"livenessProbe"`, `"readinessProbe"`, `"resources":{"limits"`} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %s", kind, want)
			}
		}
	}
	b, _ := json.Marshal(find(objs, "Deployment")[0])
	for _, want := range []string{`"--leader-elect=true"`, `"--metrics-secure=true"`, `"--watch-namespaces=team-a,team-b"`, `"path":"/healthz"`, `"path":"/readyz"`, `"fieldPath":"metadata.namespace"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Deployment lacks %s", want)
		}
	}
	b, _ = json.Marshal(find(objs, "StatefulSet")[0])
	for _, want := range []string{`"replicas":1`, `"volumeClaimTemplates"`, `"--admin-token-file=/etc/token-engine/admin-token.json"`, `"path":"/livez"`, `"automountServiceAccountToken":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("StatefulSet lacks %s", want)
		}
	}
	// The ServiceMonitor is off by default and renders when asked for.
	if len(find(objs, "ServiceMonitor")) != 0 {
		t.Error("a ServiceMonitor is rendered by default")
	}
	if sm := find(objects(t, r.Helm("template", release, chartDir, "--set", "metrics.serviceMonitor.enabled=true")), "ServiceMonitor"); len(sm) != 1 {
		t.Error("metrics.serviceMonitor.enabled=true renders no ServiceMonitor")
	}
	// Engine off: no engine objects at all.
	off := objects(t, r.Helm("template", release, chartDir, "--set", "engine.enabled=false"))
	for _, kind := range []string{"StatefulSet", "Secret", "ClusterTokenEngine"} {
		if len(find(off, kind)) != 0 {
			t.Errorf("engine.enabled=false still renders a %s", kind)
		}
	}
}

// startAPIServer starts the real kube-apiserver and etcd without our CRDs (the chart installs
// them) and returns a cluster-admin kubeconfig path.
func startAPIServer(t *testing.T) string {
	t.Helper()
	_, path := testenv.Start(t, false)
	return path
}

// startAPIServerEnv starts the control plane like startAPIServer and also returns the
// environment, to add users.
func startAPIServerEnv(t *testing.T) (string, *envtest.Environment) {
	t.Helper()
	env, _, path := testenv.StartEnv(t, false)
	return path, env
}

// adminToken reads the engine admin Secret and checks its two keys agree.
func adminToken(t *testing.T, r *runner) string {
	t.Helper()
	var s struct {
		Data     map[string][]byte `json:"data"`
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(r.Kubectl("", "get", "secret", "token-engine-admin", "-n", namespace, "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	tok := string(s.Data["token"])
	if !regexp.MustCompile(`^apiv3_[A-Za-z0-9]{86}$`).MatchString(tok) {
		t.Fatalf("admin token %.10q… is not apiv3_ and 86 characters", tok)
	}
	var file struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(s.Data["admin-token.json"], &file); err != nil || file.Token != tok {
		t.Fatalf("admin-token.json does not hold the token of key token (err %v)", err)
	}
	if s.Metadata.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("admin Secret lacks helm.sh/resource-policy: keep")
	}
	return tok
}

// exists reports whether kubectl get finds the object.
func (r *runner) exists(args ...string) bool {
	r.t.Helper()
	out, err := r.run("", r.kubectl, append([]string{"get", "--ignore-not-found", "-o", "name"}, args...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(out) != ""
}

// TestInstallUpgradeUninstall installs the chart with the real helm onto the real API server
// (CRDs not preinstalled), upgrades it, uninstalls it, and checks what stays behind. Nothing runs
// the pods: there is no kubelet, so this checks what helm and the API server do.
func TestInstallUpgradeUninstall(t *testing.T) {
	r := newRunner(t, startAPIServer(t))
	r.Kubectl("", "create", "namespace", namespace)

	r.Helm("install", release, chartDir, "-n", namespace)
	crds := []string{"crd/databasetokens.tokens.tokenops.dev", "crd/systemtokens.tokens.tokenops.dev",
		"crd/tokenengines.tokens.tokenops.dev", "crd/clustertokenengines.tokens.tokenops.dev"}
	namespaced := []string{"deployment/token-operator", "statefulset/token-engine", "service/token-engine",
		"service/token-operator-metrics", "serviceaccount/token-operator", "role/token-operator-leader-election",
		"rolebinding/token-operator-leader-election"}
	cluster := []string{"clusterrole/token-operator-manager", "clusterrolebinding/token-operator-manager", "clustertokenengine/default"}
	for _, o := range crds {
		if !r.exists(o) {
			t.Errorf("after install: %s missing", o)
		}
	}
	for _, o := range namespaced {
		if !r.exists(o, "-n", namespace) {
			t.Errorf("after install: %s missing", o)
		}
	}
	for _, o := range cluster {
		if !r.exists(o) {
			t.Errorf("after install: %s missing", o)
		}
	}
	token := adminToken(t, r)
	cte := r.Kubectl("", "get", "clustertokenengine", "default", "-o", "jsonpath={.metadata.annotations.tokens\\.tokenops\\.dev/default} {.spec.influxdb3.url} {.spec.influxdb3.adminTokenSecretRef}")
	for _, want := range []string{"true ", "http://token-engine.token-operator.svc:8181", `"name":"token-engine-admin"`, `"namespace":"token-operator"`, `"key":"token"`} {
		if !strings.Contains(cte, want) {
			t.Errorf("ClusterTokenEngine default: missing %q in %s", want, cte)
		}
	}

	// Default-deny: a fresh install serves no namespace until told which.
	if got := r.Kubectl("", "get", "clustertokenengine", "default", "-o", "jsonpath={.spec.allowedNamespaces}"); got != "" {
		t.Errorf("a default install serves namespaces: %s", got)
	}
	// An install that serves namespaces keeps them on an upgrade that does not name them (as
	// upgrades from releases before default-deny, which served "*", do), so no live token is revoked.
	r.Kubectl("", "patch", "clustertokenengine", "default", "--type=merge", "-p", `{"spec":{"allowedNamespaces":{"matchNames":["*"]}}}`)
	r.Helm("upgrade", release, chartDir, "-n", namespace, "--set", "logLevel=debug")
	if got := r.Kubectl("", "get", "clustertokenengine", "default", "-o", "jsonpath={.spec.allowedNamespaces.matchNames}"); got != `["*"]` {
		t.Errorf("helm upgrade changed what the engine serves to %q", got)
	}
	if got := adminToken(t, r); got != token {
		t.Error("helm upgrade regenerated the engine admin token")
	}
	if args := r.Kubectl("", "get", "deployment", "token-operator", "-n", namespace, "-o", "jsonpath={.spec.template.spec.containers[0].args}"); !strings.Contains(args, "--zap-log-level=debug") {
		t.Errorf("helm upgrade did not apply logLevel: %s", args)
	}

	out := r.Helm("uninstall", release, "-n", namespace, "--wait")
	if !strings.Contains(out, "token-engine-admin") { // helm names what resource-policy keep left behind
		t.Logf("helm uninstall:\n%s", out)
	}
	for _, o := range namespaced {
		if r.exists(o, "-n", namespace) {
			t.Errorf("after uninstall: %s left behind", o)
		}
	}
	for _, o := range cluster {
		if r.exists(o) {
			t.Errorf("after uninstall: %s left behind", o)
		}
	}
	// Kept on purpose (docs/install-helm.md): the CRDs (so that tokens and their Secrets survive)
	// and the admin Secret (the engine's volume holds its digest).
	for _, o := range crds {
		if !r.exists(o) {
			t.Errorf("after uninstall: %s was deleted; helm keeps crds/", o)
		}
	}
	if got := adminToken(t, r); got != token {
		t.Error("the kept admin Secret changed")
	}
	if leftovers := strings.TrimSpace(r.Kubectl("", "get", "all,serviceaccounts,roles,rolebindings,configmaps,secrets", "-n", namespace,
		"-l", "app.kubernetes.io/instance="+release, "-o", "name")); leftovers != "secret/token-engine-admin" {
		t.Errorf("after uninstall, release objects left in %s:\n%s", namespace, leftovers)
	}

	// A reinstall adopts the kept Secret and goes on with the same token.
	r.Helm("install", release, chartDir, "-n", namespace)
	if got := adminToken(t, r); got != token {
		t.Error("reinstalling replaced the kept admin token")
	}
}

// TestRenderedObjectsPassServerValidation sends every object of several value sets to the real
// kube-apiserver with a server-side dry run: the built-in OpenAPI schemas, strict field
// validation, and our CRDs' schemas and CEL rules for the ClusterTokenEngine.
func TestRenderedObjectsPassServerValidation(t *testing.T) {
	r := newRunner(t, startAPIServer(t))
	for _, ns := range []string{namespace, "team-a", "team-b"} { // team-*: watchNamespaces' Roles
		r.Kubectl("", "create", "namespace", ns)
	}
	// The CRDs first, for real: a dry-run CRD does not make its kind known.
	r.Kubectl("", "apply", "--server-side", "-f", filepath.Join(chartDir, "crds"))
	r.Kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	for name, sets := range map[string][]string{
		"defaults":        nil,
		"no engine":       {"engine.enabled=false"},
		"no persistence":  {"engine.persistence.enabled=false", "metrics.enabled=false"},
		"everything set":  {"watchNamespaces={team-a,team-b}", "replicas=2", "engine.persistence.storageClass=-", "engine.existingAdminSecret=mine", "engine.expiredTokenRetention=24h", "extraArgs={--max-concurrent-reconciles=32}", "nodeSelector.kubernetes\\.io/os=linux", "engine.clusterTokenEngine.allowedNamespaces.matchNames={team-*}"},
		"external engine": {"engine.clusterTokenEngine.create=false", "serviceAccount.name=custom"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", release, chartDir, "-n", namespace}
			for _, s := range sets {
				args = append(args, "--set", s)
			}
			manifest := r.Helm(args...)
			// No -n: every namespaced template names its namespace (watchNamespaces' Roles live in those).
			out, err := r.run(manifest, r.kubectl, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if err != nil {
				t.Fatal(err)
			}
			if n, want := strings.Count(out, "(server dry run)"), len(objects(t, manifest)); n != want {
				t.Errorf("dry run accepted %d objects, rendered %d:\n%s", n, want, out)
			}
		})
	}
}

// TestContainerArgsParse runs the real binary with the args the chart gives each container, so a
// renamed or mistyped flag in a template fails here rather than in a crash-looping pod.
func TestContainerArgsParse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	r := newRunner(t, "")
	bin := testenv.OperatorBinary(t)
	out := r.Helm("template", release, chartDir, "-n", namespace, "--set", "watchNamespaces={a,b}",
		"--set", "engine.expiredTokenRetention=24h", "--set", "extraArgs={--max-concurrent-reconciles=8}", "--set", "logLevel=debug")
	// The replicated HTTPS engine and the gateway that reaches it with the engine's CA.
	out += "\n---\n" + r.Helm("template", release, chartDir, "-n", namespace, "--set", "engine.store=kubernetes",
		"--set", "gateway.enabled=true", "--set", "gateway.upstream=http://influxdb3:8181", "--set", "gateway.upstreamTokenSecret.name=influx")
	seen := 0
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		for _, w := range find(objects(t, out), kind) {
			b, _ := json.Marshal(w)
			var spec struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Name string   `json:"name"`
								Args []string `json:"args"`
							} `json:"containers"`
						} `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(b, &spec); err != nil {
				t.Fatal(err)
			}
			for _, c := range spec.Spec.Template.Spec.Containers {
				// --help after the args: cobra parses (and rejects) every flag first, then prints help.
				if o, err := exec.Command(bin, append(c.Args, "--help")...).CombinedOutput(); err != nil {
					t.Errorf("%s container %s: token-operator %s: %v\n%s", kind, c.Name, strings.Join(c.Args, " "), err, o)
				}
				seen++
			}
		}
	}
	if seen != 5 {
		t.Errorf("checked %d containers, want the manager and the engine, then the manager, the replicated engine and the gateway", seen)
	}
	// The check itself must be able to fail.
	if err := exec.Command(bin, "manager", "--no-such-flag", "--help").Run(); err == nil {
		t.Error("an unknown flag with --help succeeded; the check above proves nothing")
	}
}

func TestMain(m *testing.M) { os.Exit(testenv.RunTests(m)) }

// TestGeneratedAdminSecretWorksWithTheEngine starts the real engine with the chart's args and the
// admin-token.json the chart generates, and checks that the Secret's token key (what the
// ClusterTokenEngine hands the operator) is accepted as the admin token.
func TestGeneratedAdminSecretWorksWithTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	r := newRunner(t, "")
	bin := testenv.OperatorBinary(t)
	objs := objects(t, r.Helm("template", release, chartDir, "-n", namespace))
	secrets := find(objs, "Secret")
	if len(secrets) != 1 {
		t.Fatalf("want one Secret, got %d", len(secrets))
	}
	raw, _ := json.Marshal(secrets[0])
	var secret corev1.Secret
	if err := json.Unmarshal(raw, &secret); err != nil {
		t.Fatal(err)
	}
	var sts struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	raw, _ = json.Marshal(find(objs, "StatefulSet")[0])
	if err := json.Unmarshal(raw, &sts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token.json")
	if err := os.WriteFile(tokenFile, secret.Data["admin-token.json"], 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	// The chart's args, with the pod's paths and port moved here (the last of a repeated flag wins).
	args := append(sts.Spec.Template.Spec.Containers[0].Args, "--listen="+addr, "--data-dir="+filepath.Join(dir, "data"), "--admin-token-file="+tokenFile)
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for get("/readyz", "") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the engine did not become ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := get("/health", string(secret.Data["token"])); code != http.StatusOK {
		t.Errorf("GET /health with the Secret's token: %d, want 200\n%s", code, logs.String())
	}
	if code := get("/health", "apiv3_not-the-admin-token"); code != http.StatusUnauthorized {
		t.Errorf("GET /health with another token: %d, want 401", code)
	}
}

// containerArgs reads the args of the first container of a Deployment or StatefulSet in the cluster.
func (r *runner) containerArgs(kind, name string) []string {
	r.t.Helper()
	var args []string
	out := r.Kubectl("", "get", kind, name, "-n", namespace, "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	if err := json.Unmarshal([]byte(out), &args); err != nil {
		r.t.Fatalf("%s/%s args %q: %v", kind, name, out, err)
	}
	return args
}

// startProcess runs bin until the test ends (testenv.StartLogged: its output is logged if the
// test failed).
func startProcess(t *testing.T, name, bin string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	testenv.StartLogged(t, name, cmd)
}

// TestInstalledChartServesTokens runs what the chart installs as the pods would, minus the
// kubelet: the engine binary with the StatefulSet's args and the generated admin token, and the
// manager binary with the Deployment's args, POD_NAMESPACE, and the identity of the chart's
// ServiceAccount, so that only the chart's RBAC authorizes it. A DatabaseToken then becomes Ready
// through the default ClusterTokenEngine, and its token is accepted by the engine.
//
// With watchNamespaces the manager runs on Roles in those namespaces (issue 16 item 3): the same
// token becomes Ready, and the ServiceAccount may not touch Secrets anywhere else.
func TestInstalledChartServesTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a control plane")
	}
	for name, sets := range map[string][]string{
		"watching all namespaces": nil,
		"watching one namespace":  {"watchNamespaces={apps}"},
	} {
		t.Run(name, func(t *testing.T) { installedChartServesTokens(t, sets) })
	}
}

func installedChartServesTokens(t *testing.T, sets []string) {
	kcPath, env := startAPIServerEnv(t)
	r := newRunner(t, kcPath)
	bin := testenv.OperatorBinary(t)
	r.Kubectl("", "create", "namespace", namespace)
	r.Kubectl("", "create", "namespace", "apps")
	r.Kubectl("", "create", "namespace", "elsewhere")
	// The default ClusterTokenEngine serves no namespace until it is told which (issue 16).
	args := []string{"install", release, chartDir, "-n", namespace, "--set", "engine.clusterTokenEngine.allowedNamespaces.matchNames={apps}"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	r.Helm(args...)

	// The engine pod: the chart's args, with its paths and port moved here.
	dir := t.TempDir()
	var secret struct {
		Data map[string][]byte `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Kubectl("", "get", "secret", "token-engine-admin", "-n", namespace, "-o", "json")), &secret); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "admin-token.json")
	if err := os.WriteFile(tokenFile, secret.Data["admin-token.json"], 0o600); err != nil {
		t.Fatal(err)
	}
	engineAddr := testenv.FreeAddr(t)
	startProcess(t, "engine", bin, nil, append(r.containerArgs("statefulset", "token-engine"),
		"--listen="+engineAddr, "--data-dir="+filepath.Join(dir, "data"), "--admin-token-file="+tokenFile)...)
	// Without cluster DNS the engine Service name does not resolve here: point the chart's
	// ClusterTokenEngine at the engine process instead.
	r.Kubectl("", "patch", "clustertokenengine", "default", "--type=merge", "-p",
		`{"spec":{"influxdb3":{"url":"http://`+engineAddr+`"}}}`)

	// The manager pod: the chart's args and env, as the chart's ServiceAccount.
	sa, err := env.AddUser(envtest.User{Name: "system:serviceaccount:" + namespace + ":token-operator",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	saKubeconfig, err := sa.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	saPath := filepath.Join(dir, "sa-kubeconfig")
	if err := os.WriteFile(saPath, saKubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	probeAddr := testenv.FreeAddr(t)
	startProcess(t, "manager", bin, []string{"POD_NAMESPACE=" + namespace}, append(r.containerArgs("deployment", "token-operator"),
		"--kubeconfig="+saPath, "--health-probe-bind-address="+probeAddr, "--metrics-bind-address="+testenv.FreeAddr(t))...)

	r.Kubectl(`apiVersion: tokens.tokenops.dev/v1alpha1
kind: DatabaseToken
metadata: {name: writer, namespace: apps}
spec:
  permissions: [{databases: [telemetry], actions: [write]}]
`, "apply", "-f", "-")
	r.Kubectl("", "wait", "--for=condition=Ready", "--timeout=90s", "clustertokenengine/default")
	r.Kubectl("", "wait", "--for=condition=Ready", "--timeout=90s", "-n", "apps", "databasetoken/writer")
	var tokenSecret struct {
		Data map[string][]byte `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Kubectl("", "get", "secret", "writer", "-n", "apps", "-o", "json")), &tokenSecret); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+engineAddr+"/api/v3/authorize?db=telemetry&action=write", nil)
	req.Header.Set("Authorization", "Bearer "+string(tokenSecret.Data["token"]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("the engine answered %d to the minted token, want 204", resp.StatusCode)
	}
	// Leader election ran under the chart's Role.
	if !r.exists("lease/token-operator.tokens.tokenops.dev", "-n", namespace) {
		t.Error("no leader election lease in the release namespace")
	}
	// What the ServiceAccount may do with Secrets outside the watched namespaces.
	as := "--as=system:serviceaccount:" + namespace + ":token-operator"
	wantElsewhere := "yes"
	if len(sets) > 0 {
		wantElsewhere = "no"
	}
	for _, verb := range []string{"create", "delete", "list"} {
		out, _ := r.run("", r.kubectl, "auth", "can-i", verb, "secrets", "-n", "elsewhere", as)
		if got := strings.TrimSpace(out); got != wantElsewhere {
			t.Errorf("can the manager %s Secrets in a namespace it does not watch: %q, want %q", verb, got, wantElsewhere)
		}
	}
	if out, _ := r.run("", r.kubectl, "auth", "can-i", "create", "secrets", "-n", "apps", as); strings.TrimSpace(out) != "yes" {
		t.Errorf("the manager may not create Secrets in the namespace it watches: %q", out)
	}
}
