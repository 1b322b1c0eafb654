package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// leaderTerm records when this manager started leading: controller-runtime starts runnables that
// need leader election only once the lease is held, so Start runs at the start of the term. The
// token lifecycle abandons pending mints recorded before that instant at once (see
// lifecycle.Input.LeaderSince and docs/rotation.md for why that is safe).
type leaderTerm struct {
	clock clock.PassiveClock

	mu    sync.Mutex
	since time.Time
}

// Start records the start of the term and blocks until the manager stops.
func (l *leaderTerm) Start(ctx context.Context) error {
	l.mu.Lock()
	l.since = l.clock.Now()
	l.mu.Unlock()
	<-ctx.Done()
	return nil
}

// NeedLeaderElection makes the manager start it only once elected.
func (l *leaderTerm) NeedLeaderElection() bool { return true }

// Since is when the term started; zero before.
func (l *leaderTerm) Since() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.since
}
