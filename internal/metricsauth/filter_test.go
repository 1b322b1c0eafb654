package metricsauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tokenops/token-operator/internal/metricsauth"
	"github.com/tokenops/token-operator/internal/testenv"
)

// TestFilterOnTheAPIServer: /metrics behind the filter, with the real API server's TokenReview
// and SubjectAccessReview (RBAC): no token or an unknown one gets 401, a ServiceAccount without
// the non-resource permission 403, one with it the metrics, for GET only and for /metrics only;
// repeated scrapes are answered from the caches.
func TestFilterOnTheAPIServer(t *testing.T) {
	cfg, _ := testenv.Start(t, false)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	token := func(sa string) string {
		if _, err := kube.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	scraper, stranger := token("scraper"), token("stranger")
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "scraper"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var reviews atomic.Int32
	a := &metricsauth.Authorizer{
		Authenticate: func(ctx context.Context, tr *authnv1.TokenReview) (*authnv1.TokenReview, error) {
			reviews.Add(1)
			return kube.AuthenticationV1().TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
		},
		Authorize: func(ctx context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
			reviews.Add(1)
			return kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		},
	}
	var sawAuth atomic.Bool
	srv := httptest.NewServer(a.Handler(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization") != "")
		_, _ = io.WriteString(w, "metrics")
	})))
	defer srv.Close()
	get := func(method, path, token string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, method, path, token string
		want                      int
	}{
		{"no token", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"an unknown token", http.MethodGet, "/metrics", "not-a-token", http.StatusUnauthorized},
		{"without the permission", http.MethodGet, "/metrics", stranger, http.StatusForbidden},
		{"with it", http.MethodGet, "/metrics", scraper, http.StatusOK},
		{"another verb", http.MethodPost, "/metrics", scraper, http.StatusForbidden},
		{"another path", http.MethodGet, "/debug/pprof/", scraper, http.StatusForbidden},
	} {
		code, body := get(tc.method, tc.path, tc.token)
		if code != tc.want || (code == http.StatusOK) != (body == "metrics") {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
	}
	if sawAuth.Load() {
		t.Error("the metrics handler saw the caller's token")
	}
	before := reviews.Load()
	for range 5 {
		if code, _ := get(http.MethodGet, "/metrics", scraper); code != http.StatusOK {
			t.Fatalf("a repeated scrape: %d", code)
		}
		if code, _ := get(http.MethodGet, "/metrics", stranger); code != http.StatusForbidden {
			t.Fatalf("a repeated denied scrape: %d", code)
		}
	}
	if n := reviews.Load() - before; n != 0 {
		t.Errorf("10 repeated scrapes made %d reviews, want none (cached)", n)
	}
}
