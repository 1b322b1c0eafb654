// Package eventwriter records the controllers' Kubernetes events (events.k8s.io/v1) without
// client-go's series cache. client-go's events broadcaster keeps every event it emitted for at
// least six minutes to detect series; the operator emits events only on transitions (one
// "Minted" per token), so that cache held a copy of every event of a bulk mint, about 14 MB at
// 10,000 tokens, and never found a series (docs/design.md §8). A Writer creates each event as
// it comes, from a bounded queue: a burst beyond QueueSize is dropped and counted, never held.
package eventwriter

import (
	"context"
	"fmt"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const (
	// QueueSize bounds the events waiting to be written: at the API server's pace of a few
	// hundred writes a second, seconds of a burst; beyond it events are dropped (Dropped).
	QueueSize = 4096
	// Workers is how many events are written at once: as many as the token reconcilers'
	// workers (controllers.DefaultMaxConcurrentReconciles), so that events keep pace with the
	// mints that emit them (with 4, a bulk mint on a busy API server left ~15% of them queued).
	Workers = 16
	// MaxNoteLength is the API's limit on Event.note (events.k8s.io/v1 validation); longer notes
	// are cut, as client-go does.
	MaxNoteLength = 1024
)

// Dropped counts events dropped because the queue was full.
var Dropped = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "token_operator_events_dropped_total",
	Help: "Kubernetes events the operator dropped because its event queue was full (a burst faster than the API server takes them).",
})

func init() {
	// Registered like internal/metrics' collectors: the manager's /metrics serves it.
	crmetrics.Registry.MustRegister(Dropped)
}

// Writer is an events.EventRecorder that writes events through a client. It is a manager
// Runnable: Start writes queued events until the manager stops, on every replica.
type Writer struct {
	client     client.Client
	scheme     *runtime.Scheme
	controller string
	instance   string
	clock      clock.PassiveClock
	log        logr.Logger
	queue      chan *eventsv1.Event
}

var _ events.EventRecorder = (*Writer)(nil)

// New returns a Writer reporting as controller; the instance is controller-hostname, as
// client-go's recorder names it.
func New(c client.Client, scheme *runtime.Scheme, controller string, log logr.Logger) *Writer {
	host, _ := os.Hostname()
	return &Writer{client: c, scheme: scheme, controller: controller, instance: controller + "-" + host,
		clock: clock.RealClock{}, log: log, queue: make(chan *eventsv1.Event, QueueSize)}
}

// Eventf queues an event about regarding (and related, when not nil).
func (w *Writer) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ev, err := w.event(regarding, related, eventtype, reason, action, fmt.Sprintf(note, args...))
	if err != nil {
		w.log.Error(err, "Could not build an event", "reason", reason)
		return
	}
	select {
	case w.queue <- ev:
	default:
		Dropped.Inc()
	}
}

// event builds the Event the way client-go's recorder does (name, namespace, times).
func (w *Writer) event(regarding, related runtime.Object, eventtype, reason, action, note string) (*eventsv1.Event, error) {
	ref, err := reference.GetReference(w.scheme, regarding)
	if err != nil {
		return nil, err
	}
	var rel *corev1.ObjectReference
	if related != nil {
		if rel, err = reference.GetReference(w.scheme, related); err != nil {
			return nil, err
		}
	}
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault // events about cluster-scoped objects
	}
	now := w.clock.Now()
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: ns},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: w.controller,
		ReportingInstance:   w.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             rel,
		Note:                truncate(note, MaxNoteLength),
		Type:                eventtype,
	}, nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1] // part of a sequence the cut split
	}
	return s
}

// Start writes queued events until ctx ends.
func (w *Writer) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-w.queue:
					if err := w.client.Create(ctx, ev); err != nil && ctx.Err() == nil {
						w.log.Error(err, "Could not write an event", "reason", ev.Reason, "regarding", ev.Regarding.Name)
					}
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: every replica writes the events of what it did.
func (w *Writer) NeedLeaderElection() bool { return false }
