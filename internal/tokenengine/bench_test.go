package tokenengine_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// benchTokens is the number of live tokens the authorize benchmarks run against.
const benchTokens = 10_000

var noop = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func seededEngine(b *testing.B) (*tokenenginetest.Instance, []string) {
	inst := tokenenginetest.Start(b)
	return inst, tokenengine.SeedDBTokens(b, inst.Engine(), benchTokens, "bench")
}

// BenchmarkAuthorizeHandler measures the authorize handler in process (no network) with 10,000
// live tokens, and reports its throughput as a ratio of a no-op handler's measured in the same run.
func BenchmarkAuthorizeHandler(b *testing.B) {
	inst, toks := seededEngine(b)
	h := inst.Engine().Handler()
	run := func(h http.Handler, n int) time.Duration {
		var next atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					req := httptest.NewRequest(http.MethodGet, "/api/v3/authorize?db=bench&action=write", nil)
					req.Header.Set("Authorization", "Bearer "+toks[int(i)%len(toks)])
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusNoContent {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	engine := run(h, b.N)
	b.StopTimer()
	base := run(noop, b.N)
	b.ReportMetric(float64(b.N)/engine.Seconds(), "authz/s")
	b.ReportMetric(float64(b.N)/base.Seconds(), "noop-req/s")
	b.ReportMetric(base.Seconds()/engine.Seconds(), "ratio-vs-noop")
}

// loadResult is what one load run achieved.
type loadResult struct {
	requests int64
	errors   int64
	elapsed  time.Duration
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// loadgen is a small closed-loop load generator: workers keep-alive connections send GETs to a
// loopback URL until total requests are done or limit passes. tokens are sent round robin.
func loadgen(ctx context.Context, url string, tokens []string, workers int, total int64, limit time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var done, errs atomic.Int64
	start := time.Now()
	tokenenginetest.Load(ctx, client, url, tokens, workers, total, func(_ int, _ time.Duration, status int, err error) {
		switch {
		case err != nil:
			if ctx.Err() == nil {
				errs.Add(1)
			}
			return
		case status != http.StatusNoContent:
			errs.Add(1)
		}
		done.Add(1)
	})
	return loadResult{done.Load(), errs.Load(), time.Since(start)}
}

// BenchmarkAuthorizeLoopback runs the load generator against the engine's authorize endpoint
// over loopback HTTP with 10,000 live tokens, and against a no-op handler on loopback in the same
// run; ratio-vs-noop is the engine's request rate divided by the no-op server's (target >= 0.5).
func BenchmarkAuthorizeLoopback(b *testing.B) {
	inst, toks := seededEngine(b)
	noopSrv := httptest.NewServer(noop)
	defer noopSrv.Close()
	const workers = 16
	limit := 20 * time.Second
	b.ResetTimer()
	eng := loadgen(b.Context(), inst.URL+"/api/v3/authorize?db=bench&action=write", toks, workers, int64(b.N), limit)
	b.StopTimer()
	base := loadgen(b.Context(), noopSrv.URL+"/api/v3/authorize?db=bench&action=write", toks, workers, int64(b.N), limit)
	if eng.errors > 0 || base.errors > 0 {
		b.Fatalf("errors: engine %d, noop %d", eng.errors, base.errors)
	}
	b.ReportMetric(eng.perSecond(), "authz/s")
	b.ReportMetric(base.perSecond(), "noop-req/s")
	b.ReportMetric(eng.perSecond()/base.perSecond(), "ratio-vs-noop")
}

// BenchmarkCreateToken measures resource-token creation over loopback HTTP, each one committed
// and fsynced before its 201, and reports tokens/s.
func BenchmarkCreateToken(b *testing.B) {
	inst := tokenenginetest.Start(b)
	client := &http.Client{}
	i := 0
	start := time.Now()
	for b.Loop() {
		i++
		req, _ := http.NewRequest(http.MethodPost, inst.URL+tokenengine.PathResourceToken,
			stringsReader(dbTokenBody("bench-"+strconv.Itoa(i), []string{"a"}, []string{"read", "write"}, "")))
		req.Header.Set("Authorization", bearer(inst.AdminToken))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "tokens/s")
}

// BenchmarkAuthorizeNGINXInfluxQL measures the nginx mode in process with 10,000 live tokens on an
// InfluxQL query that is parsed on every call (authz/s).
func BenchmarkAuthorizeNGINXInfluxQL(b *testing.B) {
	inst, toks := seededEngine(b)
	h := inst.Engine().Handler()
	uri := "/query?db=bench&q=SELECT+mean(value)+FROM+cpu+WHERE+time+%3E+now()+-+1h+GROUP+BY+time(1m)"
	i := 0
	start := time.Now()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, tokenengine.PathAuthorize+"/nginx", nil)
		req.Header.Set("Authorization", "Bearer "+toks[i%len(toks)])
		req.Header.Set(tokenengine.HeaderOriginalURI, uri)
		req.Header.Set(tokenengine.HeaderOriginalMethod, http.MethodGet)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "authz/s")
}
