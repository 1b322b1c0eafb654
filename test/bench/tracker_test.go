//go:build linux

package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// tracker watches the DatabaseTokens of a namespace and records, per name, when the bench
// first saw each one satisfy pred. A watch, not polling: listing 10,000 tokens every few
// milliseconds would load the API server the benchmark measures.
type tracker struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	tokens map[string]*tokensv1.DatabaseToken // the object as it was when pred first held
	cancel context.CancelFunc
	done   chan struct{}
	// restarts counts the watches the API server ended, replays those that had to start again
	// from the current state (each decodes the whole namespace once more).
	restarts, replays atomic.Int32
}

func startTracker(b testing.TB, c *cluster, ns string, pred func(*tokensv1.DatabaseToken) bool) *tracker {
	return startTrackerAt(b, c, ns, "", pred)
}

// startTrackerFromNow is startTracker for a namespace that already holds many tokens: its watch
// starts at the namespace's current resourceVersion instead of replaying them all (which would
// cost the run it measures a burst of decoding).
func startTrackerFromNow(b testing.TB, c *cluster, ns string, pred func(*tokensv1.DatabaseToken) bool) *tracker {
	var l tokensv1.DatabaseTokenList
	must(b, c.k8s.List(context.Background(), &l, client.InNamespace(ns), client.Limit(1)))
	return startTrackerAt(b, c, ns, l.ResourceVersion, pred)
}

func startTrackerAt(b testing.TB, c *cluster, ns, rv string, pred func(*tokensv1.DatabaseToken) bool) *tracker {
	ctx, cancel := context.WithCancel(context.Background())
	t := &tracker{seen: map[string]time.Time{}, tokens: map[string]*tokensv1.DatabaseToken{}, cancel: cancel, done: make(chan struct{})}
	watchFrom := func(rv string) (watch.Interface, error) {
		return c.k8s.Watch(ctx, &tokensv1.DatabaseTokenList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
	}
	w, err := watchFrom(rv)
	must(b, err)
	go func() {
		defer close(t.done)
		for {
			last, expired := t.consume(w, pred)
			if ctx.Err() != nil {
				return
			}
			// The API server ends watches after a while: watch again from the last event seen
			// (or where this watch started), so that a restart does not replay the namespace
			// (10,000 objects decoded in the middle of a measured round); from the current state
			// when that is too old (objects seen before keep their first time).
			if last != "" {
				rv = last
			}
			if expired {
				rv = ""
			}
			if rv == "" {
				t.replays.Add(1)
			}
			t.restarts.Add(1)
			var err error
			if w, err = watchFrom(rv); err != nil {
				return
			}
		}
	}()
	b.Cleanup(t.stop)
	return t
}

// consume records what w reports until it ends, and returns the resourceVersion of its last
// event and whether the API server ended it as too old to resume (an Error event: 410 Gone).
func (t *tracker) consume(w watch.Interface, pred func(*tokensv1.DatabaseToken) bool) (last string, expired bool) {
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			return last, true
		}
		d, ok := ev.Object.(*tokensv1.DatabaseToken)
		if !ok {
			continue
		}
		last = d.ResourceVersion
		if ev.Type == watch.Deleted || !pred(d) {
			continue
		}
		now := time.Now()
		t.mu.Lock()
		if _, ok := t.seen[d.Name]; !ok {
			t.seen[d.Name], t.tokens[d.Name] = now, d
		}
		t.mu.Unlock()
	}
	return last, false
}

// logRestarts says in the benchmark's log how often the API server ended the watch of what.
func (t *tracker) logRestarts(b testing.TB, what string) {
	if n := t.restarts.Load(); n > 0 {
		b.Logf("%s: the API server ended the benchmark's watch %d times (%d restarted from the current state)", what, n, t.replays.Load())
	}
}

func (t *tracker) stop() {
	t.cancel()
	<-t.done
}

// wait returns once n tokens satisfied pred, or fails after timeout.
func (t *tracker) wait(b testing.TB, n int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		t.mu.Lock()
		got := len(t.seen)
		t.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d tokens after %s", got, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// last returns the latest time a token satisfied pred.
func (t *tracker) last() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var l time.Time
	for _, at := range t.seen {
		if at.After(l) {
			l = at
		}
	}
	return l
}
