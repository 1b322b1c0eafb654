//go:build linux

package engineha

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// answer is one authorize call of a load loop.
type answer struct {
	replica int
	token   int
	code    int
	at      time.Time
}

// tokenSet is what a load loop asks about: live tokens, tokens revoked (and propagated) before
// the loop, and tokens no engine ever minted.
type tokenSet struct {
	strs    []string
	live    map[int]bool
	revoked map[int]bool
	unknown map[int]bool
}

func (h *ha) tokenSet(t testing.TB, prefix string, n int) *tokenSet {
	t.Helper()
	s := &tokenSet{live: map[int]bool{}, revoked: map[int]bool{}, unknown: map[int]bool{}}
	for i := range 3 * n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		switch {
		case i < 2*n:
			tok, err := h.mint(h.replicas[i%len(h.replicas)], name)
			must(t, err)
			s.strs = append(s.strs, tok)
			if i < n {
				s.live[i] = true
			} else {
				must(t, h.revoke(h.replicas[(i+1)%len(h.replicas)], name))
				s.revoked[i] = true
			}
		default:
			s.strs = append(s.strs, tokenenginetest.NewTokenString(t))
			s.unknown[i] = true
		}
	}
	for i := range s.revoked {
		h.timeUntil(t, h.replicas, s.strs[i], http.StatusUnauthorized)
	}
	for i := range s.live {
		h.timeUntil(t, h.replicas, s.strs[i], http.StatusNoContent)
	}
	return s
}

// load asks random replicas about random tokens of s with workers goroutines until stop closes,
// pausing a millisecond between calls (a bounded loop), and returns every answer.
func (h *ha) load(s *tokenSet, workers int, stop <-chan struct{}) []answer {
	var (
		mu  sync.Mutex
		out []answer
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for !stopped(stop) {
				ri, ti := rand.IntN(len(h.replicas)), rand.IntN(len(s.strs))
				code := h.authorize(h.replicas[ri], s.strs[ti])
				mu.Lock()
				out = append(out, answer{ri, ti, code, time.Now()})
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	return out
}

// stopped reports whether stop is closed, without waiting.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// TestSIGKILLOneReplicaUnderLoad kills one replica in the middle of an authorize loop over three
// and revokes tokens through another meanwhile: no replica ever answers 204 for a token that was
// revoked (later than 1 s after the revoke was acknowledged) or never minted, or anything but 204
// for a live token, and the two others keep serving. The killed replica, started again, knows
// the revocations it missed.
func TestSIGKILLOneReplicaUnderLoad(t *testing.T) {
	h := newHA(t, 3)
	s := h.tokenSet(t, "kill", 10)
	stop := make(chan struct{})
	var killedAt, revokedAt atomic.Pointer[time.Time]
	lateRevoked := map[int]bool{}
	for i := range 3 {
		lateRevoked[i] = true // live tokens 0..2 are revoked during the loop
	}
	go func() {
		time.Sleep(2 * time.Second)
		now := time.Now()
		killedAt.Store(&now)
		h.replicas[1].proc.Kill()
		time.Sleep(time.Second)
		for i := range lateRevoked {
			must(t, h.revoke(h.replicas[0], fmt.Sprintf("kill-%d", i)))
		}
		done := time.Now()
		revokedAt.Store(&done)
		time.Sleep(3 * time.Second)
		close(stop)
	}()
	answers := h.load(s, 6, stop)
	served := map[int]int{}
	var wrong []answer
	for _, a := range answers {
		if a.replica == 1 && a.code == 0 && a.at.After(*killedAt.Load()) {
			continue // the dead replica: connection refused, or an answer that was in flight
		}
		ok := true
		switch {
		case s.revoked[a.token] || s.unknown[a.token]:
			ok = a.code == http.StatusUnauthorized
		case lateRevoked[a.token] && revokedAt.Load() != nil && a.at.After(revokedAt.Load().Add(propagationBound)):
			ok = a.code == http.StatusUnauthorized
		case lateRevoked[a.token]:
			ok = a.code == http.StatusNoContent || a.code == http.StatusUnauthorized
		default:
			ok = a.code == http.StatusNoContent
		}
		if !ok {
			wrong = append(wrong, a)
		}
		if a.code != 0 {
			served[a.replica]++
		}
	}
	t.Logf("%d authorize calls; answered by replica: %v; wrong: %d; r1 killed at %s", len(answers), served, len(wrong), killedAt.Load().Format(time.StampMilli))
	if len(wrong) > 0 {
		t.Logf("r1's log:\n%s", h.replicas[1].proc.log.String())
	}
	for _, a := range wrong[:min(len(wrong), 10)] {
		t.Errorf("replica r%d answered %d for token %d at %s", a.replica, a.code, a.token, a.at.Format(time.StampMilli))
	}
	if served[0] < 100 || served[2] < 100 {
		t.Errorf("the surviving replicas answered %d and %d calls, want at least 100 each", served[0], served[2])
	}
	// Started again, the killed replica lists the store afresh: the revocations it missed hold.
	h.replicas[1] = h.start("r1-again")
	h.waitReady(h.replicas[1], 60*time.Second)
	for i := range lateRevoked {
		if code := h.authorize(h.replicas[1], s.strs[i]); code != http.StatusUnauthorized {
			t.Errorf("restarted replica: token revoked while it was dead answered %d, want 401", code)
		}
	}
	if code := h.authorize(h.replicas[1], s.strs[5]); code != http.StatusNoContent {
		t.Errorf("restarted replica: live token answered %d, want 204", code)
	}
}

// TestAPIServerRestartFailsClosedAndRecovers stops kube-apiserver under an authorize loop: every
// replica answers 503 (and /readyz 503) once its watch has been down for --store-max-watch-gap,
// never 204 for a revoked or unknown token; once the API server is back they are ready again,
// and writes propagate again.
func TestAPIServerRestartFailsClosedAndRecovers(t *testing.T) {
	h := newHA(t, 3)
	s := h.tokenSet(t, "api", 5)
	stop := make(chan struct{})
	var (
		answers  []answer
		loadDone = make(chan struct{})
	)
	go func() { answers = h.load(s, 4, stop); close(loadDone) }()
	time.Sleep(500 * time.Millisecond)
	var stoppedAt, startedAt time.Time
	failClosed := map[int]time.Duration{}
	h.restartAPIServer(func() {
		stoppedAt = time.Now()
		deadline := stoppedAt.Add(maxWatchGap + 10*time.Second)
		for len(failClosed) < len(h.replicas) && time.Now().Before(deadline) {
			for i, r := range h.replicas {
				if _, done := failClosed[i]; done {
					continue
				}
				if code, _ := h.get(r, "/readyz", ""); code == http.StatusServiceUnavailable && h.authorize(r, s.strs[0]) == http.StatusServiceUnavailable {
					failClosed[i] = time.Since(stoppedAt)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // stay down a little longer while the loop runs
		startedAt = time.Now()
	})
	t.Logf("replicas failed closed %v after kube-apiserver stopped (max watch gap %s)", failClosed, maxWatchGap)
	if len(failClosed) != len(h.replicas) {
		t.Errorf("only %d of %d replicas answered 503 while kube-apiserver was down", len(failClosed), len(h.replicas))
	}
	for _, r := range h.replicas {
		h.waitReady(r, 60*time.Second)
	}
	t.Logf("all replicas ready again %s after kube-apiserver started", time.Since(startedAt).Round(time.Millisecond))
	close(stop)
	<-loadDone
	codes := map[int]int{}
	for _, a := range answers {
		codes[a.code]++
		switch {
		case (s.revoked[a.token] || s.unknown[a.token]) && a.code != http.StatusUnauthorized && a.code != http.StatusServiceUnavailable:
			t.Errorf("replica r%d answered %d for a revoked or unknown token at %s", a.replica, a.code, a.at.Format(time.StampMilli))
		case s.live[a.token] && a.code != http.StatusNoContent && a.code != http.StatusServiceUnavailable:
			t.Errorf("replica r%d answered %d for a live token at %s", a.replica, a.code, a.at.Format(time.StampMilli))
		}
	}
	t.Logf("%d authorize calls during the restart, by status: %v", len(answers), codes)
	if codes[http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 during the outage: the replicas did not fail closed")
	}
	// Writes propagate again through the re-established watches.
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range h.replicas {
				t.Logf("%s's log:\n%s", r.name, r.proc.log.String())
			}
		}
	})
	tok, err := h.mint(h.replicas[0], "after-restart")
	must(t, err)
	lat := h.timeUntil(t, h.others(h.replicas[0]), tok, http.StatusNoContent)
	t.Logf("a mint after the restart reached the others in %v", lat)
}
