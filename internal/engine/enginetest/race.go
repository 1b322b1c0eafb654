package enginetest

import (
	"context"
	"sync"

	"github.com/tokenops/token-operator/internal/engine"
)

// MintConcurrently mints req once on each engine, all at the same time, and returns how many
// mints succeeded and the errors of the others. Passing one engine several times races within
// one process; passing several engines over one server races like several operator processes.
func MintConcurrently(ctx context.Context, req engine.MintRequest, engines ...engine.Engine) (successes int, errs []error) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for _, e := range engines {
		wg.Go(func() {
			_, err := e.Mint(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				successes++
			} else {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return successes, errs
}
