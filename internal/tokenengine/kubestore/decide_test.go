package kubestore

import (
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"

	storev1 "github.com/tokenops/token-operator/api/enginestore/v1alpha1"
	"github.com/tokenops/token-operator/internal/tokenengine"
)

func TestReadiness(t *testing.T) {
	gap := 2 * time.Second
	for name, tc := range map[string]struct {
		synced, watching bool
		down             time.Duration
		ready            bool
	}{
		"not synced yet":                 {false, true, 0, false},
		"not synced, watch never opened": {false, false, time.Hour, false},
		"synced and watching":            {true, true, time.Hour, true},
		"watch down within the gap":      {true, false, gap, true},
		"watch down longer than the gap": {true, false, gap + time.Millisecond, false},
	} {
		if err := readiness(tc.synced, tc.watching, tc.down, gap); (err == nil) != tc.ready {
			t.Errorf("%s: %v, want ready=%t", name, err, tc.ready)
		}
	}
}

func TestOlderRV(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		older bool
	}{
		{"9", "10", true}, // numeric, not lexical
		{"10", "9", false},
		{"10", "10", false},
		{"", "10", false}, // unknown forms never hide an event
		{"abc", "10", false},
	} {
		if got := olderRV(tc.a, tc.b); got != tc.older {
			t.Errorf("olderRV(%q, %q) = %t, want %t", tc.a, tc.b, got, tc.older)
		}
	}
}

// TestWatchGapCountsFromTheLastCurrentIndex: a watch that delivered only an error did not bring
// the index up to date, so it does not restart the gap; one that delivered events, or ended
// without an error, does.
func TestWatchGapCountsFromTheLastCurrentIndex(t *testing.T) {
	gone := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"}
	for name, tc := range map[string]struct {
		events     []watch.Event
		fromBefore bool
	}{
		"only an error":           {[]watch.Event{{Type: watch.Error, Object: gone}}, true},
		"events, then an error":   {[]watch.Event{{Type: watch.Added, Object: &storev1.EngineToken{}}, {Type: watch.Error, Object: gone}}, false},
		"a quiet watch that ends": {nil, false},
	} {
		clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
		s := &Store{cfg: Config{Clock: clk}, log: slog.New(slog.DiscardHandler), byName: map[string]*entry{},
			byDigest: map[tokenengine.Digest]*tokenengine.Record{}, deleted: map[types.UID]struct{}{}, downSince: clk.Now()}
		fw := watch.NewFake()
		tw := s.track(fw)
		clk.SetTime(time.Unix(1010, 0))
		go func() {
			for _, ev := range tc.events {
				fw.Action(ev.Type, ev.Object)
			}
			fw.Stop()
		}()
		for range tw.ResultChan() {
		}
		want := time.Unix(1010, 0)
		if tc.fromBefore {
			want = time.Unix(1000, 0)
		}
		s.watchMu.Lock()
		got := s.downSince
		s.watchMu.Unlock()
		if !got.Equal(want) {
			t.Errorf("%s: the gap counts from %s, want %s", name, got, want)
		}
	}
}
