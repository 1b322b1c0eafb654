package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/gateway"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// benchSetup starts an engine with one read/write token on db a, an upstream that drains the
// body and answers like InfluxDB, and the proxy (default 2 s answer cache) in front of it.
func benchSetup(b *testing.B) (direct, proxied, tok string) {
	inst := tokenenginetest.Start(b)
	req, _ := http.NewRequest(http.MethodPost, inst.URL+tokenengine.PathResourceToken,
		strings.NewReader(`{"token_name":"bench","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read","write"]}]}`))
	req.Header.Set("Authorization", "Bearer "+inst.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var o tokenengine.TokenObject
	_ = json.NewDecoder(resp.Body).Decode(&o)
	_ = resp.Body.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(`[{"x":1}]`))
	}))
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p, err := gateway.New(gateway.Config{Upstream: u, UpstreamToken: "upstream", EngineURL: inst.URL})
	if err != nil {
		b.Fatal(err)
	}
	px := httptest.NewServer(p)
	b.Cleanup(px.Close)
	return up.URL, px.URL, o.Token
}

// latencies sends n requests one after another and returns each one's duration and the total.
func latencies(b *testing.B, n int, do func() (*http.Response, error)) ([]time.Duration, time.Duration) {
	d := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		t := time.Now()
		resp, err := do()
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		d = append(d, time.Since(t))
	}
	return d, time.Since(start)
}

func pct(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*p)].Microseconds())
}

// benchOverhead measures the proxy against the upstream directly on loopback, the same requests
// in the same run, and reports p50/p99 of both and the throughput ratio (proxied / direct).
func benchOverhead(b *testing.B, method, path string, body []byte) {
	direct, proxied, tok := benchSetup(b)
	client := &http.Client{}
	send := func(base string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			return client.Do(req)
		}
	}
	b.ResetTimer()
	px, pxTotal := latencies(b, b.N, send(proxied))
	b.StopTimer()
	dr, drTotal := latencies(b, b.N, send(direct))
	b.ReportMetric(pct(px, 0.5), "proxy-p50-µs")
	b.ReportMetric(pct(px, 0.99), "proxy-p99-µs")
	b.ReportMetric(pct(dr, 0.5), "direct-p50-µs")
	b.ReportMetric(pct(dr, 0.99), "direct-p99-µs")
	b.ReportMetric(drTotal.Seconds()/pxTotal.Seconds(), "throughput-ratio")
}

// BenchmarkProxyWrite1KiB: a 1 KiB line-protocol write through the proxy vs directly.
func BenchmarkProxyWrite1KiB(b *testing.B) {
	line := []byte("m,host=server01 value=0.64 1434055562000000000\n")
	body := bytes.Repeat(line, 1024/len(line)+1)[:1024]
	benchOverhead(b, http.MethodPost, "/api/v3/write_lp?db=a", body)
}

// BenchmarkProxyQuery: a small InfluxQL query (parsed by the proxy) vs directly.
func BenchmarkProxyQuery(b *testing.B) {
	benchOverhead(b, http.MethodGet, "/query?db=a&q="+url.QueryEscape(`SELECT mean(value) FROM cpu WHERE time > now() - 1h GROUP BY time(1m)`), nil)
}
