//go:build linux

package engineha

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storev1 "github.com/tokenops/token-operator/api/enginestore/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/kubestore"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// Benchmark sizes (issue 18): authorize at 10,000 live tokens, 16 keep-alive workers per target,
// a fixed number of requests per load run; mints and revocations timed one by one.
const (
	benchTokens   = 10_000
	benchWorkers  = 16
	benchRequests = 20_000
	benchMints    = 100
	benchRevokes  = 50
)

// BenchmarkEngineReplicas measures, in one run on one machine: authorize throughput and p50/p99
// latency over TLS at 10,000 tokens against each of three kubernetes-store replicas, against a
// bbolt-store engine process, and against a no-op handler behind the same TLS certificate (the
// baseline; ratio-vs-noop = target rate / no-op rate); mint latency on each store; and
// revocation propagation p50/p99 across the three replicas.
func BenchmarkEngineReplicas(b *testing.B) {
	h := newHA(b, 3)
	toks := h.seedEngineTokens(b, benchTokens)
	// Every replica has seen the last seeded token.
	h.timeUntil(b, h.replicas, toks[len(toks)-1], http.StatusNoContent)

	// The bbolt engine: the same tokens written into its file before it starts, same TLS files.
	dir := b.TempDir()
	bs, err := tokenengine.OpenBoltStore(dir)
	must(b, err)
	recs := make([]*tokenengine.Record, len(toks))
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, tok := range toks {
		recs[i] = &tokenengine.Record{ID: uint64(i + 1), Name: fmt.Sprintf("seed-%d", i), Digest: tokenengine.DigestOf(tok), CreatedAt: now,
			Permissions: []tokenengine.Permission{{ResourceType: "db", Names: []string{"db1"}, Actions: []string{"read"}}}}
	}
	must(b, bs.PutRaw(recs...))
	must(b, bs.Close())
	bboltArgs := []string{"engine", "--store=bbolt", "--data-dir", dir}
	for i := 0; i < len(h.args); i++ { // the replicas' TLS, admin and log flags, not their store flags
		switch h.args[i] {
		case "--admin-token-file", "--tls-cert-file", "--tls-key-file", "--log-format":
			bboltArgs = append(bboltArgs, h.args[i], h.args[i+1])
		}
	}
	addr := testenv.FreeAddr(b)
	bolt := &replica{name: "bbolt", url: "https://" + addr}
	bolt.proc = startProc(b, h.bin, append(bboltArgs, "--listen", addr)...)
	h.waitReady(bolt, 60*time.Second)

	noop := h.noopTLS(b)
	targets := append([]*replica{noop, bolt}, h.replicas...)
	results := map[string][]loadResult{}
	b.ResetTimer()
	for b.Loop() {
		for _, r := range targets {
			results[r.name] = append(results[r.name], h.loadgen(b, r, toks))
		}
	}
	b.StopTimer()
	base := merge(results[noop.name])
	for _, r := range targets {
		m := merge(results[r.name])
		b.ReportMetric(m.perSecond(), r.name+"-authz/s")
		b.ReportMetric(ms(quantile(m.lat, 0.5)), r.name+"-p50-ms")
		b.ReportMetric(ms(quantile(m.lat, 0.99)), r.name+"-p99-ms")
		if r != noop {
			b.ReportMetric(m.perSecond()/base.perSecond(), r.name+"-ratio-vs-noop")
		}
	}
	for _, r := range []*replica{bolt, h.replicas[0]} {
		lat := h.mintLatencies(b, r, benchMints)
		store := "kubernetes"
		if r == bolt {
			store = "bbolt"
		}
		b.ReportMetric(ms(quantile(lat, 0.5)), store+"-mint-p50-ms")
		b.ReportMetric(ms(quantile(lat, 0.99)), store+"-mint-p99-ms")
	}
	var prop []time.Duration
	for i := range benchRevokes {
		a := h.replicas[i%3]
		name := fmt.Sprintf("bench-revoke-%d", i)
		tok, err := h.mint(a, name)
		must(b, err)
		h.timeUntil(b, h.replicas, tok, http.StatusNoContent)
		must(b, h.revoke(a, name))
		prop = append(prop, h.timeUntil(b, h.others(a), tok, http.StatusUnauthorized)...)
	}
	b.ReportMetric(ms(quantile(prop, 0.5)), "revoke-propagation-p50-ms")
	b.ReportMetric(ms(quantile(prop, 0.99)), "revoke-propagation-p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// seedEngineTokens writes n read tokens on db1 as EngineTokens through the API server (16 in
// parallel; the engine API would work too, one create at a time) and returns their strings.
func (h *ha) seedEngineTokens(b *testing.B, n int) []string {
	b.Helper()
	c, err := client.New(h.cfg, client.Options{Scheme: kubestore.Scheme()})
	must(b, err)
	toks := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	now := metav1.NewMicroTime(time.Now().UTC().Truncate(time.Millisecond))
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				tok := tokenenginetest.NewTokenString(b)
				name := fmt.Sprintf("seed-%d", i)
				o := &storev1.EngineToken{ObjectMeta: metav1.ObjectMeta{Name: kubestore.ObjectName(name), Namespace: engineNamespace},
					Spec: storev1.EngineTokenSpec{ID: int64(i + 1), Name: name, SHA512: tokenengine.DigestOf(tok).Hex(), CreatedAt: now,
						Permissions: []storev1.EngineTokenPermission{{ResourceType: "db", ResourceNames: []string{"db1"}, Actions: []string{"read"}}}}}
				if err := c.Create(context.Background(), o); err != nil {
					errs <- err
					return
				}
				toks[i] = tok
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return toks
}

// noopTLS serves a no-op 204 handler with the replicas' certificate on loopback.
func (h *ha) noopTLS(b *testing.B) *replica {
	b.Helper()
	var cert, key string
	for i := 0; i < len(h.args); i++ {
		switch h.args[i] {
		case "--tls-cert-file":
			cert = h.args[i+1]
		case "--tls-key-file":
			key = h.args[i+1]
		}
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	must(b, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	must(b, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return &replica{name: "noop", url: "https://" + ln.Addr().String()}
}

// loadResult is one closed-loop load run.
type loadResult struct {
	requests int
	elapsed  time.Duration
	lat      []time.Duration
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func merge(rs []loadResult) loadResult {
	var m loadResult
	for _, r := range rs {
		m.requests += r.requests
		m.elapsed += r.elapsed
		m.lat = append(m.lat, r.lat...)
	}
	return m
}

// loadgen sends benchRequests authorize calls for round-robin tokens to r from benchWorkers
// keep-alive TLS connections (at most 30 s) and records each latency; any answer but 204 fails.
func (h *ha) loadgen(b *testing.B, r *replica, toks []string) loadResult {
	b.Helper()
	tr := h.client.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = benchWorkers, benchWorkers
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lats := make([][]time.Duration, benchWorkers)
	var failed atomic.Int64
	start := time.Now()
	tokenenginetest.Load(ctx, client, r.url+tokenengine.PathAuthorize+"?db=db1&action=read", toks, benchWorkers, benchRequests,
		func(w int, latency time.Duration, status int, err error) {
			if err != nil || status != http.StatusNoContent {
				failed.Add(1)
			}
			if err == nil {
				lats[w] = append(lats[w], latency)
			}
		})
	res := loadResult{elapsed: time.Since(start)}
	for _, l := range lats {
		res.lat = append(res.lat, l...)
	}
	res.requests = len(res.lat)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%s: %d of %d authorize calls failed", r.name, n, benchRequests)
	}
	return res
}

// mintLatencies mints n tokens one after another through r and returns each create's latency.
func (h *ha) mintLatencies(b *testing.B, r *replica, n int) []time.Duration {
	b.Helper()
	out := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		_, err := h.mint(r, fmt.Sprintf("bench-mint-%s-%d", r.name, i))
		must(b, err)
		out[i] = time.Since(t0)
	}
	return out
}
