// Package clouddedicatedtest is an in-test HTTP server that stands in for InfluxDB Cloud
// Dedicated in tests. It is a TEST SERVER, NOT AN ENGINE: it implements only what the
// clouddedicated adapter and its tests use, with the behaviour docs/engines/facts.md §3 records
// from the Management API spec:
//   - Management API under /api/v0 with Bearer management tokens: GET (a bare JSON array) and
//     POST (200, not 201, with the plaintext in accessToken, stored only as a hash) on
//     /accounts/{a}/clusters/{c}/tokens, GET /…/tokens/{t} (200, revoked ones too with
//     revokedAt; 404) and DELETE /…/tokens/{t} (204, 404). Errors are
//     {code: <int>, message}. Descriptions are not unique. Revoked tokens stay listed with
//     revokedAt (one reading of the unverified list behaviour), and their DELETE answers 404.
//   - Requests are counted by route, and listed tokens too (Counter), so that tests can prove
//     what a call costs at 10,000 tokens.
//   - A data plane on its own URL (as a cluster's data URL is): POST /api/v2/write?bucket=DB and
//     GET /query?db=DB answer 204/200 when the token may write/read DB, 403 when it may not, and
//     401 for an unknown, revoked or expired token, or one not active yet (ActivationDelay).
package clouddedicatedtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine/testserver"
)

// Server is the test server. Create it with Start.
type Server struct {
	// URL is the Management API's base URL (…/api/v0), DataURL the data plane's.
	URL     string
	DataURL string
	// AccountID and ClusterID name the one cluster; ManagementToken may manage its tokens.
	AccountID       string
	ClusterID       string
	ManagementToken string
	// Counter counts Management API requests by route and the tokens listed.
	Counter testserver.Counter

	clock  testserver.Clock
	mu     sync.Mutex
	tokens []*token // in creation order
	byID   map[string]*token
	hash   map[[64]byte]*token
	// activation is how long a new token is refused on the data plane.
	activation time.Duration
}

type permission struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

type token struct {
	AccountID   string       `json:"accountId"`
	ClusterID   string       `json:"clusterId"`
	ID          string       `json:"id"`
	Description string       `json:"description"`
	Permissions []permission `json:"permissions"`
	CreatedAt   string       `json:"createdAt"`
	ExpiresAt   string       `json:"expiresAt,omitempty"`
	RevokedAt   string       `json:"revokedAt,omitempty"`
	AccessToken string       `json:"accessToken,omitempty"`
	created     time.Time
	expires     time.Time
}

// timeFormat is RFC 3339 with milliseconds, as in the spec's examples.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Start starts the Management API and data plane for t.
func Start(t testing.TB) *Server {
	s := &Server{clock: testserver.Clock{Step: time.Millisecond}, AccountID: uuid(), ClusterID: uuid(), ManagementToken: "mgmt_" + base64.RawURLEncoding.EncodeToString(testserver.RandomBytes(48)), hash: map[[64]byte]*token{}, byID: map[string]*token{}}
	api := httptest.NewServer(s.Counter.Wrap(s.managementRoutes()))
	t.Cleanup(api.Close)
	data := httptest.NewServer(s.dataRoutes())
	t.Cleanup(data.Close)
	s.URL, s.DataURL = api.URL+"/api/v0", data.URL
	return s
}

// SetActivationDelay makes new tokens work on the data plane only after d.
func (s *Server) SetActivationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activation = d
}

// Live returns how many unrevoked tokens are described description.
func (s *Server) Live(description string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if t.Description == description && t.RevokedAt == "" {
			n++
		}
	}
	return n
}

func uuid() string {
	b := testserver.RandomBytes(16)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func fail(w http.ResponseWriter, status int, message string) {
	testserver.WriteJSON(w, status, map[string]any{"code": status, "message": message})
}

func (s *Server) managementRoutes() http.Handler {
	mux := http.NewServeMux()
	const tokens = "/api/v0/accounts/{account}/clusters/{cluster}/tokens"
	mux.HandleFunc("GET "+tokens, s.managed(s.list))
	mux.HandleFunc("POST "+tokens, s.managed(s.create))
	mux.HandleFunc("GET "+tokens+"/{id}", s.managed(s.get))
	mux.HandleFunc("DELETE "+tokens+"/{id}", s.managed(s.delete))
	return mux
}

// managed checks the management token and the account and cluster.
func (s *Server) managed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case testserver.Credential(r, "Bearer") != s.ManagementToken:
			fail(w, http.StatusUnauthorized, "unauthorized")
		case r.PathValue("account") != s.AccountID || r.PathValue("cluster") != s.ClusterID:
			fail(w, http.StatusNotFound, "not found")
		default:
			h(w, r)
		}
	}
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []token{}
	for _, t := range s.tokens {
		out = append(out, *t)
	}
	s.Counter.Add(testserver.ListedObjects, len(out))
	testserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.byID[r.PathValue("id")]
	var out token
	if ok {
		out = *t
	}
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "not found")
		return
	}
	testserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Description *string      `json:"description"`
		Permissions []permission `json:"permissions"`
		ExpiresAt   *string      `json:"expiresAt"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Description == nil {
		fail(w, http.StatusBadRequest, "bad request: description is required")
		return
	}
	for _, p := range req.Permissions {
		if (p.Action != "read" && p.Action != "write") || p.Resource == "" || len(p.Resource) > 64 {
			fail(w, http.StatusBadRequest, "bad request: invalid permission")
			return
		}
	}
	now := s.clock.Now()
	t := &token{AccountID: s.AccountID, ClusterID: s.ClusterID, ID: uuid(), Description: *req.Description,
		Permissions: req.Permissions, CreatedAt: now.Format(timeFormat), created: now}
	if t.Permissions == nil {
		t.Permissions = []permission{}
	}
	if req.ExpiresAt != nil {
		exp, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			fail(w, http.StatusBadRequest, "bad request: expiresAt is not RFC 3339")
			return
		}
		t.expires, t.ExpiresAt = exp, exp.UTC().Format(timeFormat)
	}
	plaintext := "apiv1_" + base64.RawURLEncoding.EncodeToString(testserver.RandomBytes(64))
	s.mu.Lock()
	s.tokens = append(s.tokens, t)
	s.byID[t.ID] = t
	s.hash[testserver.Hash(plaintext)] = t
	out := *t
	s.mu.Unlock()
	out.AccessToken = plaintext
	testserver.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byID[r.PathValue("id")]
	if !ok || t.RevokedAt != "" {
		fail(w, http.StatusNotFound, "not found")
		return
	}
	t.RevokedAt = s.clock.Now().Format(timeFormat)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) dataRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/write", func(w http.ResponseWriter, r *http.Request) {
		s.data(w, r, "write", r.URL.Query().Get("bucket"), http.StatusNoContent)
	})
	mux.HandleFunc("GET /query", func(w http.ResponseWriter, r *http.Request) {
		s.data(w, r, "read", r.URL.Query().Get("db"), http.StatusOK)
	})
	return mux
}

// data answers a data-plane request for action on db.
func (s *Server) data(w http.ResponseWriter, r *http.Request, action, db string, ok int) {
	s.mu.Lock()
	t := s.hash[testserver.Hash(testserver.Credential(r, "Bearer", "Token"))]
	activation := s.activation
	s.mu.Unlock()
	now := time.Now()
	switch {
	case t == nil || t.RevokedAt != "" || (!t.expires.IsZero() && !now.Before(t.expires)) || (activation > 0 && now.Before(t.created.Add(activation))):
		fail(w, http.StatusUnauthorized, "unauthorized")
	case !slices.ContainsFunc(t.Permissions, func(p permission) bool { return p.Action == action && (p.Resource == db || p.Resource == "*") }):
		fail(w, http.StatusForbidden, "forbidden")
	default:
		w.WriteHeader(ok)
	}
}
