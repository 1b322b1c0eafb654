// Package metricsauth serves the manager's /metrics only to callers whose bearer token the API
// server authenticates (TokenReview) and authorizes for the request's non-resource URL and verb
// (SubjectAccessReview): what controller-runtime's filters.WithAuthenticationAndAuthorization
// does, without linking k8s.io/apiserver. That library brought cel-go, gRPC and OpenTelemetry
// into the manager binary, 10 MB of code and data whose package initialisation alone kept ~8 MiB
// of the binary resident in every manager pod (docs/design.md §8, "Memory").
package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The cache lifetimes are controller-runtime's (and kube-rbac-proxy's): a revoked token or a
// withdrawn permission stops working within them.
const (
	// AuthnTTL is how long an authenticated token is believed without asking again.
	AuthnTTL = time.Minute
	// AllowTTL and DenyTTL are how long an authorization decision is kept.
	AllowTTL = 5 * time.Minute
	DenyTTL  = 30 * time.Second
	// CacheSize bounds each cache (least recently used entries go): scrapers are few, and a
	// flood of distinct tokens must not grow the manager's memory.
	CacheSize = 1024
	// ReviewTimeout bounds each review request.
	ReviewTimeout = 10 * time.Second
)

// Filter is a metricsserver.FilterProvider.
func Filter(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authnclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authzclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	a := &Authorizer{
		Authenticate: func(ctx context.Context, tr *authnv1.TokenReview) (*authnv1.TokenReview, error) {
			return authn.TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
		},
		Authorize: func(ctx context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
			return authz.SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		},
	}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return a.Handler(log, next), nil
	}, nil
}

// Authorizer decides with the API server's reviews, cached.
type Authorizer struct {
	Authenticate func(context.Context, *authnv1.TokenReview) (*authnv1.TokenReview, error)
	Authorize    func(context.Context, *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error)

	users     *cache.LRUExpireCache // sha256(token) → authnv1.UserInfo
	decisions *cache.LRUExpireCache // decisionKey → bool
}

// Handler answers 401 without a token the API server authenticates, 403 when the user may not
// request the path with the method's verb, 500 when a review fails, and otherwise serves next.
// The token is never logged; the caches key it by its SHA-256.
func (a *Authorizer) Handler(log logr.Logger, next http.Handler) http.Handler {
	if a.users == nil {
		a.users, a.decisions = cache.NewLRUExpireCache(CacheSize), cache.NewLRUExpireCache(CacheSize)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user, ok, err := a.user(r.Context(), token)
		switch {
		case err != nil:
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		case !ok:
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb := strings.ToLower(r.Method)
		allowed, err := a.allowed(r.Context(), user, r.URL.Path, verb)
		switch {
		case err != nil:
			log.Error(err, "Authorization failed", "user", user.Username)
			http.Error(w, fmt.Sprintf("Authorization for user %s failed", user.Username), http.StatusInternalServerError)
			return
		case !allowed:
			http.Error(w, fmt.Sprintf("Authorization denied for user %s", user.Username), http.StatusForbidden)
			return
		}
		r.Header.Del("Authorization") // the handler has no use for it
		next.ServeHTTP(w, r)
	})
}

// bearer is the request's bearer token.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "bearer") && token != ""
}

func (a *Authorizer) user(ctx context.Context, token string) (authnv1.UserInfo, bool, error) {
	key := sha256.Sum256([]byte(token))
	if u, ok := a.users.Get(key); ok {
		return u.(authnv1.UserInfo), true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ReviewTimeout)
	defer cancel()
	tr, err := a.Authenticate(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}})
	if err != nil {
		return authnv1.UserInfo{}, false, err
	}
	if !tr.Status.Authenticated {
		return authnv1.UserInfo{}, false, nil
	}
	a.users.Add(key, tr.Status.User, AuthnTTL)
	return tr.Status.User, true, nil
}

// decisionKey identifies an authorization decision.
type decisionKey struct{ user, path, verb string }

func (a *Authorizer) allowed(ctx context.Context, u authnv1.UserInfo, path, verb string) (bool, error) {
	key := decisionKey{user: userKey(u), path: path, verb: verb}
	if d, ok := a.decisions.Get(key); ok {
		return d.(bool), nil
	}
	extra := make(map[string]authzv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	ctx, cancel := context.WithTimeout(ctx, ReviewTimeout)
	defer cancel()
	sar, err := a.Authorize(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		NonResourceAttributes: &authzv1.NonResourceAttributes{Path: path, Verb: verb},
	}})
	if err != nil {
		return false, err
	}
	ttl := DenyTTL
	if sar.Status.Allowed {
		ttl = AllowTTL
	}
	a.decisions.Add(key, sar.Status.Allowed, ttl)
	return sar.Status.Allowed, nil
}

// userKey is everything a SubjectAccessReview is asked about the user, as one string.
func userKey(u authnv1.UserInfo) string {
	return fmt.Sprintf("%q %q %q %v", u.Username, u.UID, u.Groups, u.Extra)
}
