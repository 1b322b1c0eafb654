package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1alpha1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

const (
	// engineSelector selects the engine's pods (the chart's engineSelectorLabels), not the
	// migration Job's.
	engineSelector = "app.kubernetes.io/instance=" + release + ",app.kubernetes.io/component=token-engine"
	// haReplicas is the chart's default engine.replicas with store kubernetes.
	haReplicas = 3
	// loadWorkers authorize concurrently through the Service while a replica is deleted, each
	// one call per loadInterval at most: 200 calls a second, a call every 5 ms across the
	// deletion. Unpaced, they saturate this 2-core node, which also runs the control plane and
	// kube-proxy that a real cluster's data path does not share.
	loadWorkers  = 4
	loadInterval = 20 * time.Millisecond
)

// engineHA moves the engine to the kubernetes store the way docs/install-helm.md ("Moving the
// engine to the kubernetes store") says: apply the CRDs, scale the StatefulSet to 0, `helm
// upgrade --set engine.store=kubernetes --set engine.migrateFromBbolt.enabled=true`. Then three
// replicas serve HTTPS through the Service, the token minted on bbolt still authorizes, and one
// replica deleted under an authorize load through the Service costs no request: every call on
// the live token 204, every call on an unknown token 401, none failing.
func (e *env) engineHA(t *testing.T) {
	ctx := t.Context()
	tok := e.secretToken(t)
	e.kubectl(t, "", "apply", "--server-side", "-f", "charts/token-operator/crds/")
	e.kubectl(t, "", "-n", releaseNS, "scale", "statefulset", engineName, "--replicas=0")
	e.eventually(t, 2*time.Minute, "the bbolt engine's pod gone", func() error {
		pods, err := e.cs.CoreV1().Pods(releaseNS).List(ctx, metav1.ListOptions{LabelSelector: engineSelector})
		if err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("still %v", podNames(pods.Items))
		}
		return nil
	})
	start := time.Now()
	e.runHelm(t, "upgrade", release, "charts/token-operator", "--namespace", releaseNS, "--reuse-values",
		"--set", "engine.store=kubernetes", "--set", "engine.migrateFromBbolt.enabled=true", "--wait", "--timeout", "5m")
	t.Logf("helm upgrade to engine.store=kubernetes returned after %s", time.Since(start).Round(time.Second))
	pods := e.readyPods(t, releaseNS, engineSelector, haReplicas)
	e.eventually(t, 2*time.Minute, "ClusterTokenEngine default Ready over https", func() error {
		var cte tokensv1alpha1.ClusterTokenEngine
		if err := e.c.Get(ctx, client.ObjectKey{Name: "default"}, &cte); err != nil {
			return err
		}
		if !strings.HasPrefix(string(cte.Spec.InfluxDB3.URL), "https://") {
			return fmt.Errorf("url %s", cte.Spec.InfluxDB3.URL)
		}
		if c := meta.FindStatusCondition(cte.Status.Conditions, tokensv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != cte.Generation {
			return fmt.Errorf("Ready: %+v", c)
		}
		return nil
	})

	// The engine through its Service over TLS, trusting the CA the chart generated, as the
	// manager and a gateway do.
	hc, base := e.engineClient(t)
	authorize := func(token string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+tokenengine.PathAuthorize+"?db="+database+"&action=read", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	e.eventually(t, time.Minute, "the token minted on bbolt authorizes on the kubernetes store", func() error {
		if code, err := authorize(string(tok)); err != nil || code != http.StatusNoContent {
			return fmt.Errorf("authorize: %d %v", code, err)
		}
		return nil
	})
	unknown := "apiv3_" + strings.Repeat("A", 86)
	if code, err := authorize(unknown); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("an unknown token: %d %v, want 401", code, err)
	}

	// The load, then a replica deleted under it with the pod's default grace period.
	var (
		calls, failed atomic.Int64
		mu            sync.Mutex
		wrong         []string
		stop          = make(chan struct{})
		wg            sync.WaitGroup
	)
	for w := range loadWorkers {
		wg.Go(func() {
			tick := time.NewTicker(loadInterval)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				token, want := string(tok), http.StatusNoContent
				if (w+i)%4 == 0 {
					token, want = unknown, http.StatusUnauthorized
				}
				code, err := authorize(token)
				calls.Add(1)
				if err != nil || code != want {
					if err != nil {
						failed.Add(1)
					}
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s: %d %v, want %d", time.Now().Format(time.StampMilli), code, err, want))
					mu.Unlock()
				}
			}
		})
	}
	timeline := e.watchEndpoints(t)
	time.Sleep(3 * time.Second)
	victim := pods[0].Name
	deletedAt := time.Now()
	timeline.add("deleting pod " + victim)
	if err := e.cs.CoreV1().Pods(releaseNS).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, 2*time.Minute, victim+" gone", func() error {
		_, err := e.cs.CoreV1().Pods(releaseNS).Get(ctx, victim, metav1.GetOptions{})
		if err == nil {
			return errors.New("still there")
		}
		return client.IgnoreNotFound(err)
	})
	gone := time.Since(deletedAt)
	replaced := e.readyPods(t, releaseNS, engineSelector, haReplicas)
	readyAgain := time.Since(deletedAt)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d authorize calls through the Service; %s deleted: gone after %s, %d replicas Ready again after %s (%v); %d wrong answers, %d failed calls",
		calls.Load(), victim, gone.Round(100*time.Millisecond), haReplicas, readyAgain.Round(100*time.Millisecond), podNames(replaced), len(wrong), failed.Load())
	for _, w := range wrong[:min(len(wrong), 10)] {
		t.Errorf("during the deletion: %s", w)
	}
	if len(wrong) > 0 || os.Getenv("NODE_TIMELINE") != "" {
		// What the Service routed to, and when, explains a failed call.
		t.Logf("timeline of the engine's endpoints and pods:\n%s", timeline.String())
		t.Logf("the kubelet's probe failures:\n%s", e.n.LogLines("kubelet", "Probe failed", 20))
	}
	if calls.Load() < 1000 {
		t.Errorf("only %d calls during the deletion: that is no load", calls.Load())
	}

	// The Secret's url (extraKeys {{ .EngineURL }}) is the old http:// one until the next mint;
	// the renew annotation docs/install-helm.md gives re-issues the token with the https:// URL.
	e.kubectl(t, "", "annotate", "databasetoken", tokenName, "-n", appNS, tokensv1alpha1.RenewAnnotation+"=after-migration", "--overwrite")
	renewed, _ := e.waitSecretChange(t, tok, time.Minute)
	sec, err := e.cs.CoreV1().Secrets(appNS).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if url := string(sec.Data["url"]); !strings.HasPrefix(url, "https://") {
		t.Errorf("after the renew annotation the Secret's url is %q, want the https:// engine URL", url)
	}
	if code, err := authorize(string(renewed)); err != nil || code != http.StatusNoContent {
		t.Errorf("the re-issued token: %d %v, want 204", code, err)
	}
}

// engineClient returns an HTTPS client that trusts the CA in the engine's TLS Secret and
// verifies the Service's DNS name, and the URL of the Service's cluster IP: the host resolves
// no cluster names, kube-proxy routes the cluster IP.
func (e *env) engineClient(t *testing.T) (*http.Client, string) {
	t.Helper()
	ctx := t.Context()
	sec, err := e.cs.CoreV1().Secrets(releaseNS).Get(ctx, engineName+"-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sec.Data["ca.crt"]) {
		t.Fatalf("Secret %s-tls has no ca.crt", engineName)
	}
	svc, err := e.cs.CoreV1().Services(releaseNS).Get(ctx, engineName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var port int32
	for _, p := range svc.Spec.Ports {
		if p.Protocol == corev1.ProtocolTCP {
			port = p.Port
		}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: engineName + "." + releaseNS + ".svc", MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: loadWorkers}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, "https://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port)))
}

// timeline records timestamped lines from several goroutines.
type timeline struct{ lines testenv.Lines }

func (tl *timeline) add(line string) { tl.lines.Add(time.Now().Format(time.StampMilli) + " " + line) }

func (tl *timeline) String() string { return strings.Join(tl.lines.All(), "\n") }

// watchEndpoints records, until the test ends, every change of the engine Service's
// EndpointSlices (each endpoint's pod and ready/serving/terminating) and of the engine pods'
// readiness: what kube-proxy routed to, and when.
func (e *env) watchEndpoints(t *testing.T) *timeline {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	tl := &timeline{}
	slices, err := e.cs.DiscoveryV1().EndpointSlices(releaseNS).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + engineName})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := e.cs.CoreV1().Pods(releaseNS).Watch(ctx, metav1.ListOptions{LabelSelector: engineSelector})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range slices.ResultChan() {
			es, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok {
				continue
			}
			var eps []string
			for _, ep := range es.Endpoints {
				name := strings.Join(ep.Addresses, ",")
				if ep.TargetRef != nil {
					name = ep.TargetRef.Name
				}
				eps = append(eps, fmt.Sprintf("%s ready=%v serving=%v terminating=%v", name,
					ptr.Deref(ep.Conditions.Ready, false), ptr.Deref(ep.Conditions.Serving, false), ptr.Deref(ep.Conditions.Terminating, false)))
			}
			tl.add(fmt.Sprintf("EndpointSlice %s %s: %s", es.Name, ev.Type, strings.Join(eps, "; ")))
		}
	}()
	go func() {
		for ev := range pods.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				tl.add(fmt.Sprintf("pod %s: %s deleting=%v", ev.Type, podState(*p), p.DeletionTimestamp != nil))
			}
		}
	}()
	return tl
}
