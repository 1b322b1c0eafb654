package engineref

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/enginefactory"
)

func readyCTE(name string, mutate func(*tokensv1.ClusterTokenEngine)) *tokensv1.ClusterTokenEngine {
	e := &tokensv1.ClusterTokenEngine{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: "http://engine:8181", AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin", Key: "token"},
		}}, AllowedNamespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"*"}}},
	}
	ready(e, metav1.ConditionTrue, tokensv1.ReasonReachable, 1)
	if mutate != nil {
		mutate(e)
	}
	return e
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func newResolver(t *testing.T, objs ...client.Object) *CachedResolver {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = tokensv1.AddToScheme(s)
	admin := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "token-operator", Name: "admin"}, Data: map[string][]byte{"token": []byte("apiv3_x")}}
	teamAdmin := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "admin", Labels: map[string]string{tokensv1.EngineCredentialsLabel: "true"}}, Data: map[string][]byte{"token": []byte("apiv3_y")}}
	c := fake.NewClientBuilder().WithScheme(s).
		WithObjects(append(objs, admin, teamAdmin)...).
		WithStatusSubresource(&tokensv1.ClusterTokenEngine{}, &tokensv1.TokenEngine{}).
		WithIndex(&tokensv1.ClusterTokenEngine{}, DefaultEngineIndex, func(o client.Object) []string {
			if o.GetAnnotations()[tokensv1.DefaultEngineAnnotation] == "true" {
				return []string{"true"}
			}
			return nil
		}).Build()
	return &CachedResolver{Reader: c, Clients: enginefactory.NewCache(&enginefactory.Factory{Reader: c, ManagerNamespace: "token-operator"})}
}

func TestResolve(t *testing.T) {
	def := map[string]string{tokensv1.DefaultEngineAnnotation: "true"}
	teamEngine := &tokensv1.TokenEngine{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "own", Generation: 1},
		Spec: tokensv1.TokenEngineSpec{EngineSpec: tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{
			URL: "http://team-engine:8181", AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "admin"},
		}}},
		Status: tokensv1.EngineStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{{Type: tokensv1.ConditionReady, Status: metav1.ConditionTrue, Reason: tokensv1.ReasonReachable, ObservedGeneration: 1}}},
	}
	tests := []struct {
		name       string
		objs       []client.Object
		namespace  string
		ref        *tokensv1.EngineReference
		wantReason string
		wantInMsg  string
		wantName   string
		wantURL    string
	}{
		{name: "explicit cluster engine", objs: []client.Object{readyCTE("main", nil)},
			namespace: "x", ref: &tokensv1.EngineReference{Kind: tokensv1.ClusterTokenEngineKind, Name: "main"}, wantName: "main", wantURL: "http://engine:8181"},
		{name: "kind defaults to ClusterTokenEngine", objs: []client.Object{readyCTE("main", nil)},
			namespace: "x", ref: &tokensv1.EngineReference{Name: "main"}, wantName: "main"},
		{name: "missing cluster engine", namespace: "x", ref: &tokensv1.EngineReference{Name: "nope"},
			wantReason: tokensv1.ReasonEngineNotFound, wantInMsg: "ClusterTokenEngine nope does not exist"},
		{name: "default engine", objs: []client.Object{readyCTE("main", nil), readyCTE("dflt", func(e *tokensv1.ClusterTokenEngine) { e.Annotations = def })},
			namespace: "x", wantName: "dflt"},
		{name: "no default engine", objs: []client.Object{readyCTE("main", nil)}, namespace: "x",
			wantReason: tokensv1.ReasonEngineNotFound, wantInMsg: "no ClusterTokenEngine is the default"},
		{name: "two default engines", objs: []client.Object{
			readyCTE("one", func(e *tokensv1.ClusterTokenEngine) { e.Annotations = def }),
			readyCTE("two", func(e *tokensv1.ClusterTokenEngine) { e.Annotations = def })},
			namespace: "x", wantReason: tokensv1.ReasonMultipleDefaultEngines, wantInMsg: "(one, two)"},
		{name: "default annotation not true", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Annotations = map[string]string{tokensv1.DefaultEngineAnnotation: "false"}
		})}, namespace: "x", wantReason: tokensv1.ReasonEngineNotFound},
		{name: "glob allows", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{"team-*"}}
		})}, namespace: "team-b", ref: &tokensv1.EngineReference{Name: "main"}, wantName: "main"},
		{name: "glob refuses", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{"team-*", "monitoring"}}
		})}, namespace: "default", ref: &tokensv1.EngineReference{Name: "main"},
			wantReason: tokensv1.ReasonNotPermitted, wantInMsg: "ClusterTokenEngine main does not allow namespace default (allowedNamespaces.matchNames [team-*, monitoring])"},
		{name: "selector allows", objs: []client.Object{namespace("labelled", map[string]string{"tokens": "on"}), readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tokens": "on"}}}
		})}, namespace: "labelled", ref: &tokensv1.EngineReference{Name: "main"}, wantName: "main"},
		{name: "selector refuses", objs: []client.Object{namespace("plain", nil), readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tokens": "on"}}}
		})}, namespace: "plain", ref: &tokensv1.EngineReference{Name: "main"},
			wantReason: tokensv1.ReasonNotPermitted, wantInMsg: "allowedNamespaces.selector tokens=on"},
		{name: "not ready", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			ready(e, metav1.ConditionFalse, tokensv1.ReasonUnreachable, 1)
		})}, namespace: "x", ref: &tokensv1.EngineReference{Name: "main"}, wantReason: tokensv1.ReasonEngineNotReady, wantInMsg: "Unreachable"},
		{name: "refused namespace wins over not ready", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			ready(e, metav1.ConditionFalse, tokensv1.ReasonUnreachable, 1)
			e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{"a"}}
		})}, namespace: "x", ref: &tokensv1.EngineReference{Name: "main"}, wantReason: tokensv1.ReasonNotPermitted},
		{name: "token engine in its namespace", objs: []client.Object{teamEngine}, namespace: "team-a",
			ref: &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}, wantName: "own", wantURL: "http://team-engine:8181"},
		{name: "token engine of another namespace", objs: []client.Object{teamEngine}, namespace: "team-b",
			ref: &tokensv1.EngineReference{Kind: tokensv1.TokenEngineKind, Name: "own"}, wantReason: tokensv1.ReasonEngineNotFound, wantInMsg: "in namespace team-b"},
		{name: "credentials gone although Ready", objs: []client.Object{readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
			e.Spec.InfluxDB3.AdminTokenSecretRef.Name = "gone"
		})}, namespace: "x", ref: &tokensv1.EngineReference{Name: "main"}, wantReason: tokensv1.ReasonCredentialsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newResolver(t, tt.objs...).Resolve(context.Background(), tt.namespace, tt.ref, Request{})
			if tt.wantReason != "" {
				if reasonOf(err) != tt.wantReason || !strings.Contains(err.Error(), tt.wantInMsg) {
					t.Fatalf("err = %v, want reason %s containing %q", err, tt.wantReason, tt.wantInMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Name != tt.wantName || got.Engine == nil || got.Type != tokensv1.EngineTypeInfluxDB3 || !got.SupportsSystemTokens {
				t.Errorf("Resolved = %+v", got)
			}
			if tt.wantURL != "" && got.URL != tt.wantURL {
				t.Errorf("URL = %q, want %q", got.URL, tt.wantURL)
			}
		})
	}
}

// The policy is applied after allowedNamespaces and before readiness, with the engine named in the
// message; revocation ignores both.
func TestResolvePolicy(t *testing.T) {
	ctx := context.Background()
	ref := &tokensv1.EngineReference{Name: "main"}
	withPolicy := func(e *tokensv1.ClusterTokenEngine) {
		e.Spec.AllowedNamespaces = &tokensv1.AllowedNamespaces{MatchNames: []string{"team-*", "labelled"}}
		e.Spec.Policy = &tokensv1.EnginePolicy{Rules: []tokensv1.PolicyRule{
			{Name: "labelled", Namespaces: &tokensv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}}, AllowAllDatabases: true},
			{Name: "teams", Namespaces: &tokensv1.AllowedNamespaces{MatchNames: []string{"team-*"}}, Databases: []string{"team-*"}, MaxExpiresAfter: dur("7d")},
		}}
	}
	r := newResolver(t, readyCTE("main", withPolicy), namespace("labelled", map[string]string{"tier": "gold"}), namespace("team-b", nil))

	if _, err := r.Resolve(ctx, "team-b", ref, Request{Databases: []string{"team-b"}, ExpiresAfter: time.Hour}); err != nil {
		t.Fatalf("permitted request: %v", err)
	}
	if _, err := r.Resolve(ctx, "labelled", ref, Request{Databases: []string{"*"}}); err != nil {
		t.Fatalf("selector rule: %v", err)
	}
	_, err := r.Resolve(ctx, "team-b", ref, Request{Databases: []string{"billing"}, ExpiresAfter: time.Hour})
	if reasonOf(err) != tokensv1.ReasonNotPermitted || !strings.Contains(err.Error(), `ClusterTokenEngine main: policy rule "teams" (the first rule matching namespace team-b) does not permit database "billing"`) {
		t.Fatalf("denied database: %v", err)
	}
	_, err = r.Resolve(ctx, "team-b", ref, Request{Databases: []string{"team-b"}})
	if reasonOf(err) != tokensv1.ReasonNotPermitted || !strings.Contains(err.Error(), "never expires") {
		t.Fatalf("no expiry under a max: %v", err)
	}
	// allowedNamespaces is decided first, with its own message.
	_, err = r.Resolve(ctx, "finance", ref, Request{Databases: []string{"team-b"}})
	if reasonOf(err) != tokensv1.ReasonNotPermitted || !strings.Contains(err.Error(), "does not allow namespace finance") {
		t.Fatalf("allowedNamespaces: %v", err)
	}
	// Revocation is never refused: neither allowedNamespaces nor the policy apply.
	got, err := r.ResolveForRevocation(ctx, "finance", ref)
	if err != nil || got.Name != "main" || got.Engine == nil {
		t.Fatalf("ResolveForRevocation = %+v, %v", got, err)
	}

	// A policy refusal does not wait for the engine to be Ready; revocation does.
	down := newResolver(t, namespace("team-b", nil), readyCTE("main", func(e *tokensv1.ClusterTokenEngine) {
		withPolicy(e)
		ready(e, metav1.ConditionFalse, tokensv1.ReasonUnreachable, 1)
	}))
	if _, err := down.Resolve(ctx, "team-b", ref, Request{Databases: []string{"billing"}, ExpiresAfter: time.Hour}); reasonOf(err) != tokensv1.ReasonNotPermitted {
		t.Fatalf("policy before readiness: %v", err)
	}
	if _, err := down.ResolveForRevocation(ctx, "team-b", ref); reasonOf(err) != tokensv1.ReasonEngineNotReady {
		t.Fatalf("revocation of a not-Ready engine: %v", err)
	}
}

// A ClusterTokenEngine serves only the namespaces it names: without allowedNamespaces, or with an
// empty one, it serves none (issue 16: secure by default). A TokenEngine serves its own namespace.
func TestResolveDefaultDeny(t *testing.T) {
	ctx := context.Background()
	ref := &tokensv1.EngineReference{Name: "main"}
	for name, allowed := range map[string]*tokensv1.AllowedNamespaces{
		"omitted":          nil,
		"empty":            {},
		"empty matchNames": {MatchNames: []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newResolver(t, readyCTE("main", func(e *tokensv1.ClusterTokenEngine) { e.Spec.AllowedNamespaces = allowed }))
			_, err := r.Resolve(ctx, "team-a", ref, Request{Databases: []string{"*"}})
			if reasonOf(err) != tokensv1.ReasonNotPermitted || !strings.Contains(err.Error(), "ClusterTokenEngine main serves no namespace") ||
				!strings.Contains(err.Error(), "allowedNamespaces") {
				t.Fatalf("err = %v, want NotPermitted saying the engine serves no namespace", err)
			}
			// Revoking stays possible, so tokens minted before the upgrade can be taken away.
			if _, err := r.ResolveForRevocation(ctx, "team-a", ref); err != nil {
				t.Fatalf("ResolveForRevocation: %v", err)
			}
		})
	}
}
