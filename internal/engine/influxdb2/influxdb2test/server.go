// Package influxdb2test is an in-test HTTP server that stands in for InfluxDB 2.x OSS in tests.
// It is a TEST SERVER, NOT AN ENGINE: it implements only the endpoints the influxdb2 adapter and
// its tests use, with the behaviour docs/engines/facts.md §2 records from the server's source:
//   - POST /api/v2/authorizations answers 201 with the token, which is stored only as a hash
//     (2.9+), so reads return an empty token; descriptions are not unique and never conflict;
//     createdAt is stamped before the authorization is stored, as v2 does, so concurrent
//     creates may become visible out of createdAt order;
//     resource.name is ignored; resource.orgID must equal orgID; the caller must hold write on
//     authorizations.
//   - GET /api/v2/authorizations (orgID filter), GET and DELETE /api/v2/authorizations/{id}
//     (200/204, 404, 400 for a malformed id).
//   - Requests are counted by route, and listed authorizations too (Counter), so that tests can
//     prove what a call costs at 10,000 tokens.
//   - GET /api/v2/orgs (org or orgID; 404 when not found), GET /api/v2/buckets (name, orgID;
//     404 `bucket "B" not found`).
//   - Errors are {code, message} with X-Platform-Error-Code; a missing or unknown token is 401
//     "unauthorized access".
//   - For the tests' authorization questions: POST /api/v2/write (write on the bucket) and
//     GET /api/v2/buckets/{id} (read on the bucket).
package influxdb2test

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

// Org is the name of the one organization the server has.
const Org = "acme"

// Server is the test server. Create it with Start.
type Server struct {
	// URL is the server's base URL.
	URL string
	// Token is the operator token: it holds every permission.
	Token string
	// OrgID is the ID of Org.
	OrgID string
	// Counter counts requests by route and the authorizations listed.
	Counter testserver.Counter

	clock testserver.Clock
	mu    sync.Mutex
	byID  map[string]*authorization
	hash  map[[64]byte]*authorization
	// buckets maps a bucket name in Org to its ID.
	buckets map[string]string
}

type resource struct {
	Type  string  `json:"type"`
	ID    *string `json:"id,omitempty"`
	OrgID *string `json:"orgID,omitempty"`
	Name  string  `json:"name,omitempty"` // output only: the OSS server ignores it on input
	Org   string  `json:"org,omitempty"`
}

type permission struct {
	Action   string   `json:"action"`
	Resource resource `json:"resource"`
}

type authorization struct {
	ID          string `json:"id"`
	Token       string `json:"token"`
	hash        [64]byte
	Status      string       `json:"status"`
	Description string       `json:"description"`
	OrgID       string       `json:"orgID"`
	Org         string       `json:"org"`
	UserID      string       `json:"userID"`
	User        string       `json:"user"`
	Permissions []permission `json:"permissions"`
	Links       links        `json:"links"`
	CreatedAt   string       `json:"createdAt"`
	UpdatedAt   string       `json:"updatedAt"`
}

type links struct {
	Self string `json:"self"`
	User string `json:"user,omitempty"`
}

const userID = "0a0a0a0a0a0a0a0a"

// Start starts a server for t with one org and an operator token (read and write on every type).
func Start(t testing.TB) *Server {
	s := &Server{OrgID: testserver.HexID(8), byID: map[string]*authorization{}, hash: map[[64]byte]*authorization{}, buckets: map[string]string{}}
	var all []permission
	for _, typ := range knownTypes {
		all = append(all, permission{Action: "read", Resource: resource{Type: typ}}, permission{Action: "write", Resource: resource{Type: typ}})
	}
	op := s.add(&authorization{Description: "operator token", Status: "active", Permissions: all})
	s.Token = op.Token
	srv := httptest.NewServer(s.Counter.Wrap(s.routes()))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// CreateBucket makes a bucket named name exist in Org.
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; !ok {
		s.buckets[name] = testserver.HexID(8)
	}
}

// Authorizations returns how many authorizations are described description.
func (s *Server) Authorizations(description string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.byID {
		if a.Description == description {
			n++
		}
	}
	return n
}

// add stores a with a new ID and token (88 characters: base64url with padding of 64 random
// bytes) and returns a copy holding the plaintext; only the hash is kept.
func (s *Server) add(a *authorization) authorization {
	token := base64.URLEncoding.EncodeToString(testserver.RandomBytes(64))
	now := s.clock.Now().Format(time.RFC3339Nano)
	a.ID, a.OrgID, a.Org, a.UserID, a.User = testserver.HexID(8), s.OrgID, Org, userID, "admin"
	a.CreatedAt, a.UpdatedAt = now, now
	a.Links = links{Self: "/api/v2/authorizations/" + a.ID, User: "/api/v2/users/" + userID}
	s.mu.Lock()
	a.hash = testserver.Hash(token)
	s.byID[a.ID] = a
	s.hash[a.hash] = a
	s.mu.Unlock()
	out := *a
	out.Token = token
	return out
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/orgs", s.authenticated(s.listOrgs))
	mux.HandleFunc("GET /api/v2/buckets", s.authenticated(s.listBuckets))
	mux.HandleFunc("GET /api/v2/buckets/{id}", s.authenticated(s.getBucket))
	mux.HandleFunc("GET /api/v2/authorizations", s.authenticated(s.listAuthorizations))
	mux.HandleFunc("POST /api/v2/authorizations", s.authenticated(s.createAuthorization))
	mux.HandleFunc("GET /api/v2/authorizations/{id}", s.authenticated(s.getAuthorization))
	mux.HandleFunc("DELETE /api/v2/authorizations/{id}", s.authenticated(s.deleteAuthorization))
	mux.HandleFunc("POST /api/v2/write", s.authenticated(s.write))
	return mux
}

// fail answers a v2 error.
func fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("X-Platform-Error-Code", code)
	testserver.WriteJSON(w, status, map[string]string{"code": code, "message": fmt.Sprintf(format, args...)})
}

type handler func(w http.ResponseWriter, r *http.Request, caller *authorization)

// authenticated resolves the Token or Bearer credential (scheme case-insensitive) to its
// authorization: 401 when missing, unknown or inactive.
func (s *Server) authenticated(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred := testserver.Credential(r, "Token", "Bearer")
		s.mu.Lock()
		a := s.hash[testserver.Hash(cred)]
		s.mu.Unlock()
		switch {
		case cred == "" || a == nil:
			fail(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
		case a.Status != "active":
			fail(w, http.StatusUnauthorized, "unauthorized", "token is inactive")
		default:
			h(w, r, a)
		}
	}
}

// allows is the OSS permission match: same action and type, and the permission's id and orgID,
// when set, equal the resource's.
func (a *authorization) allows(action, typ, id, orgID string) bool {
	return slices.ContainsFunc(a.Permissions, func(p permission) bool {
		return p.Action == action && p.Resource.Type == typ &&
			(p.Resource.ID == nil || *p.Resource.ID == id) &&
			(p.Resource.OrgID == nil || *p.Resource.OrgID == orgID)
	})
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, _ *authorization) {
	q := r.URL.Query()
	org := map[string]string{"id": s.OrgID, "name": Org, "status": "active"}
	switch {
	case q.Get("org") != "" && q.Get("org") != Org:
		fail(w, http.StatusNotFound, "not found", "organization name %q not found", q.Get("org"))
	case q.Get("orgID") != "" && q.Get("orgID") != s.OrgID:
		fail(w, http.StatusNotFound, "not found", "organization not found")
	default:
		testserver.WriteJSON(w, http.StatusOK, map[string]any{"links": links{Self: "/api/v2/orgs"}, "orgs": []any{org}})
	}
}

func (s *Server) bucket(name, id string) map[string]any {
	return map[string]any{"id": id, "name": name, "orgID": s.OrgID, "type": "user", "retentionRules": []any{}}
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request, caller *authorization) {
	q := r.URL.Query()
	if id := q.Get("orgID"); id != "" && id != s.OrgID {
		fail(w, http.StatusNotFound, "not found", "organization not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for name, id := range s.buckets {
		if (q.Get("name") == "" || q.Get("name") == name) && caller.allows("read", "buckets", id, s.OrgID) {
			out = append(out, s.bucket(name, id))
		}
	}
	if q.Get("name") != "" && len(out) == 0 {
		fail(w, http.StatusNotFound, "not found", "bucket %q not found", q.Get("name"))
		return
	}
	testserver.WriteJSON(w, http.StatusOK, map[string]any{"links": links{Self: "/api/v2/buckets"}, "buckets": out})
}

func (s *Server) getBucket(w http.ResponseWriter, r *http.Request, caller *authorization) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, bid := range s.buckets {
		if bid == id {
			if !caller.allows("read", "buckets", id, s.OrgID) {
				fail(w, http.StatusUnauthorized, "unauthorized", "read:orgs/%s/buckets/%s is unauthorized", s.OrgID, id)
				return
			}
			testserver.WriteJSON(w, http.StatusOK, s.bucket(name, id))
			return
		}
	}
	fail(w, http.StatusNotFound, "not found", "bucket not found")
}

// BucketID returns the ID of the bucket named name, or "".
func (s *Server) BucketID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[name]
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, caller *authorization) {
	name := r.URL.Query().Get("bucket")
	id := s.BucketID(name)
	switch {
	case id == "":
		fail(w, http.StatusNotFound, "not found", "bucket %q not found", name)
	case !caller.allows("write", "buckets", id, s.OrgID):
		fail(w, http.StatusForbidden, "forbidden", "insufficient permissions for write")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) listAuthorizations(w http.ResponseWriter, r *http.Request, caller *authorization) {
	if caller.allows("read", "authorizations", "", s.OrgID) {
		out := s.authorizationsOf(r.URL.Query().Get("orgID"))
		s.Counter.Add(testserver.ListedObjects, len(out))
		testserver.WriteJSON(w, http.StatusOK, map[string]any{"links": links{Self: "/api/v2/authorizations"}, "authorizations": out})
		return
	}
	fail(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
}

// authorizationsOf copies the authorizations of orgID (all when empty), oldest first; their
// token fields are empty, since only hashes are stored.
func (s *Server) authorizationsOf(orgID string) []authorization {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []authorization{}
	for _, a := range s.byID {
		if orgID == "" || a.OrgID == orgID {
			out = append(out, *a)
		}
	}
	slices.SortFunc(out, func(a, b authorization) int { return compare(a.CreatedAt, b.CreatedAt) })
	return out
}

func compare(a, b string) int {
	ta, _ := time.Parse(time.RFC3339Nano, a)
	tb, _ := time.Parse(time.RFC3339Nano, b)
	return ta.Compare(tb)
}

// knownTypes are the resource types the OSS server accepts (docs/engines/facts.md §2).
var knownTypes = []string{"authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs", "users",
	"variables", "scrapers", "secrets", "labels", "views", "documents", "notificationRules", "notificationEndpoints",
	"checks", "dbrp", "notebooks", "annotations", "remotes", "replications", "instance"}

func (s *Server) createAuthorization(w http.ResponseWriter, r *http.Request, caller *authorization) {
	var req struct {
		OrgID       string       `json:"orgID"`
		Description string       `json:"description"`
		Status      string       `json:"status"`
		Permissions []permission `json:"permissions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid", "malformed authorization: %v", err)
		return
	}
	switch {
	case len(req.Permissions) == 0:
		fail(w, http.StatusBadRequest, "invalid", "authorization must include permissions")
		return
	case req.OrgID == "":
		fail(w, http.StatusBadRequest, "invalid", "org id required")
		return
	case req.OrgID != s.OrgID:
		fail(w, http.StatusBadRequest, "invalid", "unable to create token")
		return
	case !caller.allows("write", "authorizations", "", s.OrgID):
		fail(w, http.StatusForbidden, "forbidden", "permission write:authorizations is not allowed")
		return
	}
	for i, p := range req.Permissions {
		req.Permissions[i].Resource.Name, req.Permissions[i].Resource.Org = "", "" // ignored on input
		switch {
		case !slices.Contains(knownTypes, p.Resource.Type) || (p.Action != "read" && p.Action != "write"):
			fail(w, http.StatusBadRequest, "invalid", "invalid resource type for permission")
			return
		case p.Resource.OrgID != nil && *p.Resource.OrgID != req.OrgID:
			fail(w, http.StatusBadRequest, "invalid", "permission %s:%s is not for org id %s", p.Action, p.Resource.Type, req.OrgID)
			return
		}
	}
	status := req.Status
	if status == "" {
		status = "active"
	}
	a := s.add(&authorization{Description: req.Description, Status: status, Permissions: req.Permissions})
	testserver.WriteJSON(w, http.StatusCreated, a)
}

// authorizationID returns the {id} of r when it is well-formed and caller may do action on
// authorizations; otherwise it answers as v2 does (400 before 401) and returns false.
func (s *Server) authorizationID(w http.ResponseWriter, r *http.Request, caller *authorization, action string) (string, bool) {
	id := r.PathValue("id")
	if len(id) != 16 {
		fail(w, http.StatusBadRequest, "invalid", "id must have a length of 16 bytes")
		return "", false
	}
	if !caller.allows(action, "authorizations", "", s.OrgID) {
		fail(w, http.StatusUnauthorized, "unauthorized", "unauthorized access")
		return "", false
	}
	return id, true
}

func (s *Server) deleteAuthorization(w http.ResponseWriter, r *http.Request, caller *authorization) {
	id, ok := s.authorizationID(w, r, caller, "write")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, found := s.byID[id]
	if !found {
		fail(w, http.StatusNotFound, "not found", "authorization not found")
		return
	}
	delete(s.byID, id)
	delete(s.hash, a.hash)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getAuthorization(w http.ResponseWriter, r *http.Request, caller *authorization) {
	id, ok := s.authorizationID(w, r, caller, "read")
	if !ok {
		return
	}
	s.mu.Lock()
	a, found := s.byID[id]
	var out authorization
	if found {
		out = *a
	}
	s.mu.Unlock()
	if !found {
		fail(w, http.StatusNotFound, "not found", "authorization not found")
		return
	}
	testserver.WriteJSON(w, http.StatusOK, out)
}
