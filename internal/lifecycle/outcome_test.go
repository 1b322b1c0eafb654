package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// outcome is what a row of TestMapError expects.
type outcome int

const (
	backoff  outcome = iota // the error is returned for controller-runtime's backoff
	requeue                 // RequeueAfter, no error
	terminal                // reconcile.TerminalError
)

// TestMapError has one row per error class: the condition reasons set (Type=Reason, in order),
// the events emitted on their transitions (Reason), and the outcome.
func TestMapError(t *testing.T) {
	eng := `ClusterTokenEngine "default"`
	op := `minting token "t"`
	in := ErrorInput{Op: op, Engine: eng, Kind: "DatabaseToken", Secret: "app"}
	del := in
	del.Deleting = true
	kube := in
	kube.Kubernetes = true
	gr := schema.GroupResource{Resource: "secrets"}
	conflict := apierrors.NewConflict(gr, "app", errors.New("the object has been modified"))

	tests := []struct {
		name     string
		in       ErrorInput
		err      error
		class    ErrorClass
		conds    []string // Type=Reason; a trailing "?" marks UnlessLive
		events   []string // event reasons, in order
		outcome  outcome
		after    time.Duration
		inReady  string // in the Ready message
		readyEvt bool
	}{
		{"engine transient", in, engine.Errorf("503 service unavailable"), ClassEngineError,
			[]string{"EngineReachable=EngineError", "Ready=EngineError?"}, []string{"EngineError", "EngineError"}, backoff, 0,
			eng + `: minting token "t": 503 service unavailable; retrying with backoff, the Secret is kept`, true},
		{"network failure (untyped)", in, errors.New("dial tcp: connection refused"), ClassEngineError,
			[]string{"EngineReachable=EngineError", "Ready=EngineError?"}, []string{"EngineError", "EngineError"}, backoff, 0, "connection refused", true},
		{"context deadline", in, fmt.Errorf("calling the engine: %w", context.DeadlineExceeded), ClassEngineError,
			[]string{"EngineReachable=EngineError", "Ready=EngineError?"}, []string{"EngineError", "EngineError"}, backoff, 0, "deadline exceeded", true},
		{"engine conflict escaped its caller", in, engine.ConflictErrorf("exists"), ClassEngineError,
			[]string{"EngineReachable=EngineError", "Ready=EngineError?"}, []string{"EngineError", "EngineError"}, backoff, 0, "exists", true},
		{"engine not found escaped its caller", in, engine.NotFoundErrorf("no such token"), ClassEngineError,
			[]string{"EngineReachable=EngineError", "Ready=EngineError?"}, []string{"EngineError", "EngineError"}, backoff, 0, "no such token", true},
		{"engine transient while deleting", del, engine.Errorf("503"), ClassEngineError,
			[]string{"RevocationFailed=RevocationFailed", "EngineReachable=EngineError", "Ready=EngineError?"},
			[]string{"RevocationFailed", "EngineError", "EngineError"}, backoff, 0, "503", true},
		{"permanent", in, engine.PermanentErrorf("400 bad request"), ClassRejected,
			[]string{"EngineReachable=Reachable", "Ready=EngineRejected"}, []string{"Reachable", "EngineRejected"}, terminal, 0,
			`minting token "t": 400 bad request; the engine will not accept this, fix the spec`, true},
		{"permanent with a reason", in, engine.PermanentErrorf("no such database").WithReason(tokensv1.ReasonUnsupported), ClassRejected,
			[]string{"EngineReachable=Reachable", "Ready=Unsupported"}, []string{"Reachable", "Unsupported"}, terminal, 0, "fix the spec", true},
		{"permanent while deleting backs off", del, engine.PermanentErrorf("400"), ClassRejected,
			[]string{"RevocationFailed=RevocationFailed", "EngineReachable=Reachable", "Ready=EngineRejected"},
			[]string{"RevocationFailed", "Reachable", "EngineRejected"}, backoff, 0, "fix the spec", true},
		{"pending with a wait and a reason", in, engine.PendingErrorf(10*time.Second, "database db1 does not exist yet").WithReason(tokensv1.ReasonDatabaseNotFound), ClassPending,
			[]string{"EngineReachable=Reachable", "Ready=DatabaseNotFound?"}, []string{"Reachable", "DatabaseNotFound"}, requeue, 10 * time.Second, "does not exist yet", true},
		{"pending without either", in, engine.PendingErrorf(0, "activating"), ClassPending,
			[]string{"EngineReachable=Reachable", "Ready=Minting?"}, []string{"Reachable"}, requeue, EngineRetryInterval, "activating", false},
		{"unauthorized", in, engine.UnauthorizedErrorf("401"), ClassUnauthorized,
			[]string{"EngineReachable=Unauthorized", "Ready=Unauthorized?"}, []string{"Unauthorized", "Unauthorized"}, backoff, 0,
			eng + " refused the operator's credentials", true},
		{"engine not found (resolution)", in, engine.UnusableErrorf(tokensv1.ReasonEngineNotFound, "%s does not exist", eng), ClassUnusable,
			[]string{"Ready=EngineNotFound?", "EngineReachable=EngineNotFound"}, []string{"EngineNotFound"}, requeue, EngineRetryInterval, "does not exist", true},
		{"engine not ready (resolution)", in, engine.UnusableErrorf(tokensv1.ReasonEngineNotReady, "not ready"), ClassUnusable,
			[]string{"Ready=EngineNotReady?", "EngineReachable=EngineNotReady"}, []string{"EngineNotReady"}, requeue, EngineRetryInterval, "not ready", true},
		{"not permitted (resolution)", in, engine.UnusableErrorf(tokensv1.ReasonNotPermitted, "namespace not allowed"), ClassUnusable,
			[]string{"Ready=NotPermitted?", "EngineReachable=NotPermitted"}, []string{"NotPermitted"}, requeue, EngineRetryInterval, "namespace not allowed", true},
		{"unusable while deleting", del, engine.UnusableErrorf(tokensv1.ReasonCredentialsNotFound, "no admin Secret"), ClassUnusable,
			[]string{"RevocationFailed=CredentialsNotFound", "EngineReachable=CredentialsNotFound"}, nil, requeue, EngineRetryInterval, "", false},
		{"kubernetes conflict", in, conflict, ClassAPIConflict, nil, nil, requeue, ConflictRequeue, "", false},
		{"kubernetes conflict from a write", kube, fmt.Errorf("patching: %w", conflict), ClassAPIConflict, nil, nil, requeue, ConflictRequeue, "", false},
		{"kubernetes not found", in, apierrors.NewNotFound(gr, "app"), ClassAPIError, nil, nil, backoff, 0, "", false},
		{"kubernetes forbidden", in, apierrors.NewForbidden(gr, "app", errors.New("RBAC")), ClassAPIError, nil, nil, backoff, 0, "", false},
		{"kubernetes server timeout", kube, apierrors.NewServerTimeout(gr, "patch", 1), ClassAPIError, nil, nil, backoff, 0, "", false},
		{"kubernetes call, untyped error", kube, errors.New("http2: client connection lost"), ClassEngineError, nil, nil, backoff, 0, "", false},
		{"kubernetes call, context deadline", kube, context.DeadlineExceeded, ClassEngineError, nil, nil, backoff, 0, "", false},
		{"secret write failed", kube, fmt.Errorf("writing Secret %q: %w", "app", errors.New("the Secret kept changing")), ClassEngineError, nil, nil, backoff, 0, "", false},
		{"secret not ours", kube, fmt.Errorf("writing Secret %q: %w", "app", errSecretNotOurs), ClassSecretNotOurs,
			[]string{"SecretConflict=SecretExists", "Ready=SecretExists"}, []string{"SecretExists"}, requeue, SecretConflictRetryInterval,
			`Secret "app" exists and is not owned by this DatabaseToken; it is never overwritten`, false},
		{"secret superseded", kube, fmt.Errorf("writing Secret %q: %w", "app", errSuperseded), ClassSuperseded, nil, nil, requeue, StaleRequeue, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := MapError(tt.in, tt.err)
			if o.Class != tt.class {
				t.Errorf("class = %s, want %s", o.Class, tt.class)
			}
			var conds, events []string
			for _, c := range o.Conditions {
				s := c.Type + "=" + c.Reason
				if c.UnlessLive {
					s += "?"
				}
				conds = append(conds, s)
				if c.Event != nil {
					events = append(events, c.Event.Reason)
				}
				if c.Type == tokensv1.ConditionReady {
					if !strings.Contains(c.Message, tt.inReady) {
						t.Errorf("Ready message %q does not contain %q", c.Message, tt.inReady)
					}
					if (c.Event != nil) != tt.readyEvt {
						t.Errorf("Ready event = %+v, want one: %v", c.Event, tt.readyEvt)
					}
					if c.Event != nil && c.Event.Type != corev1.EventTypeWarning {
						t.Errorf("Ready event type = %s", c.Event.Type)
					}
				}
			}
			if strings.Join(conds, " ") != strings.Join(tt.conds, " ") {
				t.Errorf("conditions = %v, want %v", conds, tt.conds)
			}
			if strings.Join(events, " ") != strings.Join(tt.events, " ") {
				t.Errorf("events = %v, want %v", events, tt.events)
			}
			res, err := o.Result()
			switch tt.outcome {
			case backoff:
				if err == nil || isTerminal(err) || res.RequeueAfter != 0 {
					t.Errorf("Result() = %+v, %v; want the error for backoff", res, err)
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("returned error %v does not wrap %v", err, tt.err)
				}
			case terminal:
				if !errors.Is(err, reconcile.TerminalError(nil)) || !errors.Is(err, tt.err) || res.RequeueAfter != 0 {
					t.Errorf("Result() = %+v, %v; want a terminal error wrapping the cause", res, err)
				}
			case requeue:
				if err != nil || res.RequeueAfter != tt.after {
					t.Errorf("Result() = %+v, %v; want RequeueAfter %s", res, err, tt.after)
				}
			}
		})
	}
}

// TestOnlyRejectedIsTerminal: nothing but an engine's Permanent answer to an engine call outside deletion stops
// requeues, whatever the call; an outage, a 5xx or a Kubernetes error never does.
func TestOnlyRejectedIsTerminal(t *testing.T) {
	errs := []error{
		engine.Errorf("503"), engine.PendingErrorf(time.Second, "wait"), engine.UnauthorizedErrorf("401"),
		engine.UnusableErrorf(tokensv1.ReasonEngineNotReady, "x"), engine.ConflictErrorf("x"), engine.NotFoundErrorf("x"),
		errors.New("x"), context.DeadlineExceeded, context.Canceled,
		apierrors.NewConflict(schema.GroupResource{}, "x", nil), apierrors.NewForbidden(schema.GroupResource{}, "x", nil),
		apierrors.NewTooManyRequests("x", 1), apierrors.NewInternalError(errors.New("x")),
		errSecretNotOurs, errSuperseded,
	}
	for _, deleting := range []bool{false, true} {
		for _, kube := range []bool{false, true} {
			in := ErrorInput{Op: "op", Engine: "e", Deleting: deleting, Kubernetes: kube}
			for _, err := range errs {
				if o := MapError(in, err); o.Terminal {
					t.Errorf("%+v, %v: terminal", in, err)
				}
			}
			// From a Kubernetes call an engine's answer is not expected; it backs off like any error there.
			if o := MapError(in, engine.PermanentErrorf("400")); o.Terminal != (!deleting && !kube) {
				t.Errorf("%+v, Permanent: terminal = %v", in, o.Terminal)
			}
		}
	}
}
