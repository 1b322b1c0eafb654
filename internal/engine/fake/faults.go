package fake

import (
	"context"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// faults is the injected misbehaviour; guarded by Engine.mu.
type faults struct {
	latency      time.Duration
	queued       map[Op][]error
	failFunc     func(op Op, name string) error
	down         bool
	unauthorized bool
	loseMint     int
}

// locked runs f with the engine's lock held.
func (e *Engine) locked(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f()
}

// FailNext queues errors returned by the next calls of op, one per call, before the operation
// has any effect.
func (e *Engine) FailNext(op Op, errs ...error) {
	e.locked(func() {
		if e.queued == nil {
			e.queued = map[Op][]error{}
		}
		e.queued[op] = append(e.queued[op], errs...)
	})
}

// SetFailFunc installs f, called on every operation with its name argument (the token name, the
// List prefix, "" for Check); a non-nil result is returned before the operation has any effect.
// nil removes it.
func (e *Engine) SetFailFunc(f func(op Op, name string) error) { e.locked(func() { e.failFunc = f }) }

// SetLatency delays every call by d of real time (a cancelled context cuts it short).
func (e *Engine) SetLatency(d time.Duration) { e.locked(func() { e.latency = d }) }

// SetDown makes every call fail with a Transient "engine unreachable" error while down is true.
func (e *Engine) SetDown(down bool) { e.locked(func() { e.down = down }) }

// SetUnauthorized makes every call fail with an Unauthorized error while refused is true, as if
// the admin token were wrong.
func (e *Engine) SetUnauthorized(refused bool) { e.locked(func() { e.unauthorized = refused }) }

// LoseNextMintResponses makes the next n successful mints create the token but return a
// Transient error, like a response lost on the network: the caller's retry meets a Conflict.
func (e *Engine) LoseNextMintResponses(n int) { e.locked(func() { e.loseMint += n }) }

// enter counts the call, waits the latency and returns the injected error for it, if any.
func (e *Engine) enter(ctx context.Context, op Op, name string) error {
	e.mu.Lock()
	e.calls[op]++
	latency, f := e.latency, e.failFunc
	var queued error
	if q := e.queued[op]; len(q) > 0 {
		queued, e.queued[op] = q[0], q[1:]
	}
	down, unauthorized := e.down, e.unauthorized
	e.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return engine.Errorf("%s: engine did not answer: %v", op, ctx.Err())
		case <-t.C:
		}
	}
	switch {
	case ctx.Err() != nil:
		return engine.Errorf("%s: %v", op, ctx.Err())
	case down:
		return engine.Errorf("%s: engine unreachable (fake is down)", op).WithReason(tokensv1.ReasonUnreachable)
	case unauthorized:
		return engine.UnauthorizedErrorf("%s: the engine refused the admin credentials (fake)", op).WithReason(tokensv1.ReasonUnauthorized)
	case queued != nil:
		return queued
	case f != nil:
		return f(op, name)
	}
	return nil
}
