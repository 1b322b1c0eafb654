package lifecycle

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// staleView reports whether the cached resource is older than the API server's. It is asked only
// before resuming or abandoning a pending mint: right after our own step-5 write, the Secret's
// event often arrives before the status does, and acting on that stale pending would cost an
// engine Lookup and a status write that can only conflict. One uncached read is cheaper; when the
// view is stale the pass waits for the cache (the crash case, where the views agree, goes on).
func (s *scope[T]) staleView(ctx context.Context) (bool, error) {
	live := s.r.Kind.New()
	if err := s.r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.obj), live); err != nil {
		if apierrors.IsNotFound(err) {
			s.stale = true
			return true, nil
		}
		return false, err
	}
	s.stale = live.GetResourceVersion() != s.obj.GetResourceVersion()
	return s.stale, nil
}
