package tokenenginetest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load is the benchmarks' closed-loop load generator: workers goroutines send GETs of url over
// client, each with the next of tokens (round robin) as its Bearer token, until total requests
// are sent or ctx ends. Every answer goes to record from its worker's goroutine (w in
// [0, workers)): the call's latency, and its error or status (the body is drained and closed).
func Load(ctx context.Context, client *http.Client, url string, tokens []string, workers int, total int64,
	record func(w int, latency time.Duration, status int, err error)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= total && ctx.Err() == nil; i = next.Add(1) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[int(i)%len(tokens)])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					record(w, time.Since(t0), 0, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				record(w, time.Since(t0), resp.StatusCode, nil)
			}
		})
	}
	wg.Wait()
}
