package eventwriter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/eventwriter"
	"github.com/tokenops/token-operator/internal/scheme"
	"github.com/tokenops/token-operator/internal/testenv"
)

// Events reach the real API server as client-go's recorder would write them: about the object,
// in its namespace (the default one for a cluster-scoped object), the note cut to the API's
// limit; a queue that is full drops and counts instead of holding events.
func TestWriterWritesEvents(t *testing.T) {
	cfg, _ := testenv.Start(t, false)
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "events-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	tok := &tokensv1.DatabaseToken{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns.Name, UID: "0a1b2c3d-0000"}}
	eng := &tokensv1.ClusterTokenEngine{ObjectMeta: metav1.ObjectMeta{Name: "e", UID: "0a1b2c3d-0001"}}

	w := eventwriter.New(c, scheme.New(), "token-operator", logr.Discard())
	// Before Start nothing is written: QueueSize events wait, the next is dropped.
	dropped := testutil.ToFloat64(eventwriter.Dropped)
	w.Eventf(tok, nil, corev1.EventTypeNormal, tokensv1.ReasonMinted, "Mint", "Minted token %q", "k8s.x")
	w.Eventf(eng, nil, corev1.EventTypeWarning, "EngineError", "Check", "%s", strings.Repeat("é", eventwriter.MaxNoteLength))
	for range eventwriter.QueueSize - 2 {
		w.Eventf(eng, nil, corev1.EventTypeNormal, "Filler", "Check", "filler")
	}
	w.Eventf(tok, nil, corev1.EventTypeNormal, "Dropped", "Mint", "one too many")
	if got := testutil.ToFloat64(eventwriter.Dropped) - dropped; got != 1 {
		t.Errorf("dropped %v events, want 1", got)
	}
	go func() { _ = w.Start(ctx) }()

	find := func(namespace, reason string) *eventsv1.Event {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var list eventsv1.EventList
			if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
				t.Fatal(err)
			}
			for i := range list.Items {
				if list.Items[i].Reason == reason {
					return &list.Items[i]
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %s event in %s", reason, namespace)
		return nil
	}
	minted := find(ns.Name, tokensv1.ReasonMinted)
	if minted.Regarding.Kind != "DatabaseToken" || minted.Regarding.Name != "a" || minted.Regarding.UID != tok.UID ||
		minted.Note != `Minted token "k8s.x"` || minted.Type != corev1.EventTypeNormal || minted.Action != "Mint" ||
		minted.ReportingController != "token-operator" || !strings.HasPrefix(minted.ReportingInstance, "token-operator-") {
		t.Errorf("Minted event: %+v", minted)
	}
	long := find(metav1.NamespaceDefault, "EngineError")
	if len(long.Note) > eventwriter.MaxNoteLength || !strings.HasPrefix(long.Note, "éé") || strings.ContainsRune(long.Note, '\uFFFD') {
		t.Errorf("long note: %d bytes, %q…", len(long.Note), long.Note[:10])
	}
	if long.Regarding.Kind != "ClusterTokenEngine" {
		t.Errorf("engine event regards %+v", long.Regarding)
	}
}
