package lifecycle

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
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

// knownStaleFor bounds how long a token this process recorded as current makes a view that shows
// it pending stale without asking the API server: ample for a watch to deliver our own write,
// and short enough that a status restored from an old backup is soon read for real.
const knownStaleFor = 30 * time.Second

// recordedCurrent is an entry of Reconciler.recorded.
type recordedCurrent struct {
	name string
	at   time.Time
}

// knownStale reports whether the view is stale by what this process wrote itself
// (Reconciler.recorded, see staleByOwnWrite), and forgets the entry once it has served.
func (s *scope[T]) knownStale() bool {
	rec, ok := s.r.recorded.load(s.obj)
	if !ok {
		return false
	}
	stale, forget := staleByOwnWrite(rec, s.status, s.now)
	if forget {
		s.r.recorded.forgetIf(s.obj, rec)
	}
	return stale
}

// staleByOwnWrite decides from rec, the token this process recorded as current at rec.at: a view
// that shows it still pending within knownStaleFor is stale (status only moves forward); once the
// view shows it current, or the window has passed, the entry has served and is forgotten.
func staleByOwnWrite(rec recordedCurrent, st *tokensv1.TokenStatus, now time.Time) (stale, forget bool) {
	if now.Sub(rec.at) >= knownStaleFor || (st.Current != nil && st.Current.TokenName == rec.name) {
		return false, true
	}
	return st.Pending != nil && st.Pending.TokenName == rec.name, false
}
