//go:build linux

// Package bench is the macro benchmark (`make bench`, docs/design.md §8): DatabaseTokens to
// Ready through the real `token-operator manager` and `token-operator engine` processes on the
// real kube-apiserver + etcd, against a bare client making the same API writes at the same
// concurrency in the same run. Only ratios measured in one run count: the machine is shared.
//
// BENCH_FULL=1 (`make bench-full`) runs 10,000 tokens with 1,000 unrelated 100 KiB Secrets in
// the cluster; the default is 1,000 tokens. BENCH_MANAGER_GOMEMLIMIT=<v> runs the manager with
// GOMEMLIMIT=<v>, as a container memory limit would (internal/cli/manager.go:setMemoryLimit);
// BENCH_MANAGER_ARGS adds manager flags (e.g. --max-concurrent-reconciles=32);
// BENCH_HEAP_PROFILE=<file> saves the manager's heap profile once it is idle after the tokens
// are Ready, BENCH_CPU_PROFILE=<file> its CPU profile of the first operator round's start,
// BENCH_APISERVER_PROFILE=<dir> kube-apiserver's of every round, whole; BENCH_NO_BASELINE=1
// skips the baseline (memory runs, no ratio).
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/scheme"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func TestMain(m *testing.M) {
	logf.SetLogger(logr.Discard()) // envtest's own logs; the processes log to files in the run's folder
	os.Exit(testenv.RunTests(m))
}

// Namespaces of a run: the operator's, its tokens (and the unrelated Secrets), the baseline's objects.
const (
	operatorNamespace = "token-operator"
	tokensNamespace   = "bench-op"
	baselineNamespace = "bench-base"
)

// creators is how many goroutines create the tokens, and the baseline's workers: the manager's
// default --max-concurrent-reconciles.
const creators = 16

// startProc starts bin with its output in logPath, as a testenv.Proc: in its own process group,
// dead with the benchmark (Pdeathsig) and SIGKILLed at cleanup.
func startProc(b testing.TB, env []string, logPath, bin string, args ...string) *testenv.Proc {
	b.Helper()
	out, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	return testenv.StartProc(b, cmd, func() { _ = out.Close() })
}

// usage is a process's CPU time so far, its peak resident set (VmHWM) and what it holds now,
// anonymous (heap, stacks) and file-backed (the binary's pages), from /proc.
type usage struct {
	cpu              time.Duration
	peak             int64 // bytes
	rssAnon, rssFile int64 // bytes
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Go
// supports (sysconf(_SC_CLK_TCK) needs cgo).
const clockTicks = 100

func usageOf(b testing.TB, p *testenv.Proc) usage {
	b.Helper()
	return usageOfPID(b, p.Cmd.Process.Pid)
}

// planeCPU is the CPU time kube-apiserver and etcd have used so far: what a run cost the API
// server, to compare with the baseline's.
type planeCPU struct{ apiserver, etcd time.Duration }

func (p planeCPU) total() time.Duration { return p.apiserver + p.etcd }

func (p planeCPU) sub(q planeCPU) planeCPU {
	return planeCPU{apiserver: p.apiserver - q.apiserver, etcd: p.etcd - q.etcd}
}

// planeCPU is the CPU time this cluster's kube-apiserver and etcd have used so far (the
// interleaved sizes of `make bench-full` each have their own: runMacro).
func (c *cluster) planeCPU() planeCPU {
	b := c.b
	b.Helper()
	var cpu planeCPU
	for pid, name := range c.plane {
		switch name {
		case "kube-apiserver":
			cpu.apiserver += usageOfPID(b, pid).cpu
		case "etcd":
			cpu.etcd += usageOfPID(b, pid).cpu
		}
	}
	return cpu
}

func usageOfPID(b testing.TB, p int) usage {
	b.Helper()
	pid := strconv.Itoa(p)
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		b.Fatal(err)
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u := usage{cpu: time.Duration(utime+stime) * time.Second / clockTicks}
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		for key, dst := range map[string]*int64{"VmHWM:": &u.peak, "RssAnon:": &u.rssAnon, "RssFile:": &u.rssFile} {
			if v, ok := strings.CutPrefix(sc.Text(), key); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				*dst = kb * 1024
			}
		}
	}
	return u
}

// cluster is kube-apiserver + etcd (envtest), the engine process and the manager process.
type cluster struct {
	b          testing.TB
	bin        string
	dir        string
	cfg        *rest.Config
	k8s        client.WithWatch
	kube       *kubernetes.Clientset
	kubeconfig string
	manager    *testenv.Proc
	engine     *testenv.Proc
	pprofURL   string // the manager's /debug/pprof, when BENCH_HEAP_PROFILE asks for a profile
	engineURL  string
	engineKey  string         // the engine's admin token, for the benchmark's own engine reads
	etcdURL    string         // etcd's client URL: reset deletes objects there
	plane      map[int]string // this cluster's kube-apiserver and etcd processes (pid to name)
}

// newCluster starts the control plane and the engine and creates the namespaces and the
// default ClusterTokenEngine, which serves tokensNamespace only.
func newCluster(b testing.TB) *cluster {
	b.Helper()
	if _, err := testenv.ControlPlaneDir(); err != nil {
		b.Skipf("no test control plane (run `make control-plane`): %v", err)
	}
	bin := testenv.OperatorBinary(b)
	env, err := testenv.New(true)
	if err != nil {
		b.Skipf("no test control plane: %v", err)
	}
	// kube-apiserver ≥ 1.34 compares each watch cache with etcd every 5 to 7.5 minutes
	// (DetectCacheInconsistency, beta, on by default): it lists and decodes the whole resource
	// from etcd, at 30,000 tokens and Secrets 10 to 25 s of its CPU. That lands in one round or
	// another at random, as 5 to 15 % of a 10,000-token round's control-plane CPU in profiles,
	// and is nobody's writes: the rounds compare without it.
	env.ControlPlane.GetAPIServer().Configure().Append("feature-gates", "DetectCacheInconsistency=false")
	running := testenv.Children(b, os.Getpid())
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	dir := b.TempDir()
	c := &cluster{b: b, bin: bin, dir: dir, cfg: cfg, kubeconfig: filepath.Join(dir, "kubeconfig"), etcdURL: env.ControlPlane.Etcd.URL.String(),
		plane: map[int]string{}}
	for pid, name := range testenv.Children(b, os.Getpid()) {
		if _, ok := running[pid]; !ok && (name == "kube-apiserver" || name == "etcd") {
			c.plane[pid] = name
		}
	}
	if len(c.plane) != 2 {
		b.Fatalf("found %v as the new control plane's processes, want kube-apiserver and etcd", c.plane)
	}
	pinCPUs(b, c.plane)
	c.writeKubeconfig(env)
	// The bench's own client is not the bottleneck: the baseline measures the API server.
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = 5000, 10000
	if c.k8s, err = client.NewWithWatch(fast, client.Options{Scheme: scheme.New()}); err != nil {
		b.Fatal(err)
	}
	if c.kube, err = kubernetes.NewForConfig(fast); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{operatorNamespace, tokensNamespace, baselineNamespace} {
		must(b, c.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	c.startEngine()
	return c
}

func (c *cluster) writeKubeconfig(env *envtest.Environment) {
	kc, err := testenv.AdminKubeconfig(env)
	must(c.b, err)
	must(c.b, os.WriteFile(c.kubeconfig, kc, 0o600))
}

// startEngine runs `token-operator engine` (bbolt, fsync on every commit) and the
// ClusterTokenEngine that points at it.
func (c *cluster) startEngine() {
	b := c.b
	admin := tokenenginetest.NewTokenString(b)
	adminFile := filepath.Join(c.dir, "admin.json")
	must(b, os.WriteFile(adminFile, []byte(fmt.Sprintf(`{"token":%q}`, admin)), 0o600))
	addr := testenv.FreeAddr(b)
	c.engineURL, c.engineKey = "http://"+addr, admin
	c.engine = startProc(b, nil, filepath.Join(c.dir, "engine.log"), c.bin, "engine", "--listen", addr, "--data-dir", filepath.Join(c.dir, "engine"), "--admin-token-file", adminFile)
	waitHTTP(b, c.engineURL+"/livez")
	ctx := context.Background()
	must(b, c.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token-engine-admin", Namespace: operatorNamespace},
		Data: map[string][]byte{"token": []byte(admin)}}))
	must(b, c.k8s.Create(ctx, &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: "default", Annotations: map[string]string{tokensv1.DefaultEngineAnnotation: "true"}},
		Spec: tokensv1.ClusterTokenEngineSpec{
			EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
				URL:                 tokensv1.EngineURL(c.engineURL),
				AdminTokenSecretRef: tokensv1.SecretKeySelector{Namespace: operatorNamespace, Name: "token-engine-admin", Key: "token"},
			}},
			AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{tokensNamespace}},
		},
	}))
}

// startManager runs `token-operator manager` with its default flags plus extra, watching only
// tokensNamespace (the baseline's objects are not its business), and waits until the engine is
// Ready and the manager answers /readyz.
func (c *cluster) startManager(extra ...string) {
	b := c.b
	probe := testenv.FreeAddr(b)
	args := append([]string{"manager", "--kubeconfig", c.kubeconfig, "--namespace", operatorNamespace, "--leader-elect=false",
		"--watch-namespaces", tokensNamespace, "--metrics-bind-address", "0", "--health-probe-bind-address", probe}, extra...)
	args = append(args, strings.Fields(os.Getenv("BENCH_MANAGER_ARGS"))...)
	if os.Getenv("BENCH_HEAP_PROFILE") != "" || os.Getenv("BENCH_CPU_PROFILE") != "" {
		addr := testenv.FreeAddr(b)
		args = append(args, "--pprof-bind-address", addr)
		c.pprofURL = "http://" + addr + "/debug/pprof"
	}
	b.Logf("manager %s", strings.Join(args[1:], " "))
	var env []string
	if v := os.Getenv("BENCH_MANAGER_GOMEMLIMIT"); v != "" {
		// What the chart's memory limit gives the manager through automemlimit, without a cgroup.
		env = append(env, "GOMEMLIMIT="+v)
	}
	c.manager = startProc(b, env, filepath.Join(c.dir, "manager.log"), c.bin, args...)
	waitHTTP(b, "http://"+probe+"/readyz")
	deadline := time.Now().Add(time.Minute)
	for {
		var e tokensv1.ClusterTokenEngine
		must(b, c.k8s.Get(context.Background(), client.ObjectKey{Name: "default"}, &e))
		if meta.IsStatusConditionTrue(e.Status.Conditions, tokensv1.ConditionReady) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the ClusterTokenEngine is not Ready after a minute: %+v", e.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startCPUProfile, with $BENCH_CPU_PROFILE set, profiles the manager's CPU for the next
// seconds into that file (in the background; wait for the returned channel).
func (c *cluster) startCPUProfile(seconds int) <-chan struct{} {
	path := os.Getenv("BENCH_CPU_PROFILE")
	if path == "" || c.pprofURL == "" {
		return closed()
	}
	return c.profileInto(path, "manager", func() ([]byte, error) {
		resp, err := http.Get(fmt.Sprintf("%s/profile?seconds=%d", c.pprofURL, seconds))
		if err != nil {
			return nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		return io.ReadAll(resp.Body)
	})
}

// startAPIServerProfile, with $BENCH_APISERVER_PROFILE=<dir> set, profiles kube-apiserver's CPU
// for the next seconds into <dir>/<round>.pprof (in the background): what the API server spends
// a round's CPU on, to compare an operator round with a baseline round.
func (c *cluster) startAPIServerProfile(round string, seconds int) <-chan struct{} {
	dir := os.Getenv("BENCH_APISERVER_PROFILE")
	if dir == "" {
		return closed()
	}
	return c.profileInto(filepath.Join(dir, round+".pprof"), "kube-apiserver", func() ([]byte, error) {
		return c.kube.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(seconds)).DoRaw(context.Background())
	})
}

// profileInto writes what fetch returns to path, in the background; the channel closes then.
func (c *cluster) profileInto(path, what string, fetch func() ([]byte, error)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		data, err := fetch()
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
		if err != nil {
			c.b.Errorf("%s CPU profile: %v", what, err)
			return
		}
		c.b.Logf("%s CPU profile in %s", what, path)
	}()
	return done
}

func closed() <-chan struct{} {
	done := make(chan struct{})
	close(done)
	return done
}

// saveHeapProfile writes the manager's heap profile (after a GC: what the caches hold) to
// $BENCH_HEAP_PROFILE; read it with `go tool pprof -top -sample_index=inuse_space <file>`.
func (c *cluster) saveHeapProfile() {
	path := os.Getenv("BENCH_HEAP_PROFILE")
	if path == "" || c.pprofURL == "" {
		return
	}
	c.waitIdle()
	resp, err := http.Get(c.pprofURL + "/heap?gc=1")
	must(c.b, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := os.Create(path)
	must(c.b, err)
	defer func() { _ = out.Close() }()
	_, err = io.Copy(out, resp.Body)
	must(c.b, err)
	c.b.Logf("manager heap profile in %s", path)
}

// reset deletes a round's DatabaseTokens, Secrets and events (named with prefix in ns), so that
// every round starts from the same cluster and adds its N tokens (docs/design.md §8, "How the
// benchmark compares"): piled up, a 10,000-token round ran on the 40,000 to 50,000 tokens of the
// rounds before it. The operator's tokens are deleted through the API, as a user deletes them:
// the manager revokes each in the engine, deletes its Secret and removes the finalizer. The
// baseline's go from etcd, since nobody runs their finalizer (each would take a write to
// remove). The events go from etcd for both. reset waits for quiet before and after, so a
// round neither loses its last events nor pays for the deletions.
func (c *cluster) reset(ns, prefix string, tokens int, throughOperator bool) {
	c.b.Helper()
	c.waitQuiet()
	start := time.Now()
	key := func(resource string) string { return "/registry/" + resource + "/" + ns + "/" + prefix }
	tokenKey, secretKey := key("tokens.tokenops.dev/databasetokens"), key("secrets")
	if throughOperator {
		ctx := context.Background()
		must(c.b, fanOut(tokens, creators, func(i int) error {
			obj := &tokensv1.DatabaseToken{ObjectMeta: metav1.ObjectMeta{Name: numbered(prefix, i), Namespace: ns}}
			return client.IgnoreNotFound(c.k8s.Delete(ctx, obj))
		}))
		deadline := time.Now().Add(max(5*time.Minute, time.Duration(tokens)*50*time.Millisecond))
		for c.etcdCount(tokenKey)+c.etcdCount(secretKey) > 0 {
			if time.Now().After(deadline) {
				c.b.Fatalf("%d of %s%s* tokens and %d Secrets left %s after their deletion", c.etcdCount(tokenKey), ns+"/", prefix,
					c.etcdCount(secretKey), time.Since(start).Round(time.Second))
			}
			time.Sleep(time.Second)
		}
	} else if n, m := c.etcdDelete(tokenKey), c.etcdDelete(secretKey); n != int64(tokens) || m != int64(tokens) {
		c.b.Fatalf("reset of %s%s* deleted %d tokens and %d Secrets from etcd, want %d each", ns+"/", prefix, n, m, tokens)
	}
	events := c.etcdDelete(key("events"))
	deleted := time.Since(start)
	c.waitQuiet()
	how := "from etcd"
	if throughOperator {
		how = "through the operator"
	}
	c.b.Logf("reset %s%s*: %d tokens and their Secrets deleted %s in %.1f s, %d events from etcd; quiet %.1f s later",
		ns+"/", prefix, tokens, how, deleted.Seconds(), events, (time.Since(start) - deleted).Seconds())
}

// etcdDelete deletes every key that starts with prefix through etcd's JSON gateway, and returns
// how many there were.
func (c *cluster) etcdDelete(prefix string) int64 {
	var out struct {
		Deleted int64 `json:"deleted,string"` // grpc-gateway writes int64 as a string, none at 0
	}
	c.etcdRange("deleterange", prefix, nil, &out)
	return out.Deleted
}

// etcdCount is how many keys start with prefix.
func (c *cluster) etcdCount(prefix string) int64 {
	var out struct {
		Count int64 `json:"count,string"`
	}
	c.etcdRange("range", prefix, map[string]any{"count_only": true}, &out)
	return out.Count
}

// etcdHTTP is the benchmark's client of etcd's gateway.
var etcdHTTP = &http.Client{Timeout: time.Minute}

// etcdRange calls the gateway's /v3/kv/<method> on every key that starts with prefix.
func (c *cluster) etcdRange(method, prefix string, extra map[string]any, out any) {
	c.b.Helper()
	// [prefix, end) is every key with the prefix (its last byte is ASCII); []byte marshals as
	// base64, as the gateway wants.
	end := []byte(prefix)
	end[len(end)-1]++
	req := map[string]any{"key": []byte(prefix), "range_end": end}
	for k, v := range extra {
		req[k] = v
	}
	body, err := json.Marshal(req)
	must(c.b, err)
	resp, err := etcdHTTP.Post(c.etcdURL+"/v3/kv/"+method, "application/json", bytes.NewReader(body))
	must(c.b, err)
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		c.b.Fatalf("etcd %s %s: %s, %v", method, prefix, resp.Status, err)
	}
}

// waitQuiet waits until the cluster's kube-apiserver, etcd and manager, once started, use
// under a tenth of a core together over 2 s.
func (c *cluster) waitQuiet() {
	c.waitCalm(func() time.Duration {
		cpu := c.planeCPU().total()
		if c.manager != nil {
			cpu += usageOf(c.b, c.manager).cpu
		}
		return cpu
	}, 2*time.Second, 200*time.Millisecond, "the control plane and the manager were still busy two minutes after a reset")
}

// waitIdle waits until the manager has used under 5 % of a core for 5 s: a profile taken while
// reconciles still run shows their garbage, not what the caches hold.
func (c *cluster) waitIdle() {
	c.waitCalm(func() time.Duration { return usageOf(c.b, c.manager).cpu }, 5*time.Second, 250*time.Millisecond,
		"the manager was still busy two minutes after the last token was Ready")
}

// waitCalm waits (at most two minutes, then logs busyMsg) until the CPU time busy reports grows
// by less than budget over a window.
func (c *cluster) waitCalm(busy func() time.Duration, window, budget time.Duration, busyMsg string) {
	deadline := time.Now().Add(2 * time.Minute)
	prev := busy()
	for time.Now().Before(deadline) {
		time.Sleep(window)
		cur := busy()
		if cur-prev < budget {
			return
		}
		prev = cur
	}
	c.b.Log(busyMsg)
}

func waitHTTP(b testing.TB, url string) {
	b.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := hc.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%s did not answer 200 within a minute", url)
}

// requestCounts reads apiserver_request_total from the API server's /metrics: calls by
// "VERB resource[/subresource]", summed over codes, scopes and versions; and
// apiserver_init_events_total as "replayed resource": the events a watch got when it started,
// from the watch cache, which is how a watch that restarts too far back (or a watch-list)
// lists again without a LIST.
func (c *cluster) requestCounts() map[string]float64 {
	raw, err := c.kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	must(c.b, err)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		replayed, isInit := strings.CutPrefix(sc.Text(), "apiserver_init_events_total{")
		if isInit {
			line = replayed
		} else if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		key := l["verb"] + " " + l["resource"]
		if isInit {
			key = replayedPrefix + l["resource"]
		} else if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		v, _ := strconv.ParseFloat(value, 64)
		out[key] += v
	}
	return out
}

// perToken returns after−before per token for the calls that changed, as "VERB resource n.nn".
func perToken(before, after map[string]float64, n int, skip func(string) bool) []string {
	var out []string
	for k, v := range after {
		if d := v - before[k]; d >= float64(n)/20 && !skip(k) {
			out = append(out, fmt.Sprintf("%s %.2f", k, d/float64(n)))
		}
	}
	sort.Strings(out)
	return out
}

// fanOut runs f(i) for i in [0, n) on workers goroutines and returns the first error.
func fanOut(n, workers int, f func(i int) error) error {
	work := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range workers {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// loadAverage is /proc/loadavg's first three fields, for the report: the machine is shared.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
