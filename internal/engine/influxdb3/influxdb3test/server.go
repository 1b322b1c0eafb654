// Package influxdb3test is an in-test HTTP server that stands in for InfluxDB 3 Enterprise's
// resource-token create in tests. It is a TEST SERVER, NOT AN ENGINE: it exists because the
// Enterprise server is closed source and nobody here can tell which name of the permission's
// resource list it parses (docs/engines/facts.md §1), so each Variant parses one, strictly, as a
// serde type would, and refuses the other with the message serde gives:
//   - POST /api/v3/enterprise/configure/token → 201 {id, name, token, created_at, expiry}; a
//     duplicate token_name is 409; a body without the variant's field is 400 "missing field
//     `<field>`", or with Strict 422 "unknown field `<other>`, expected one of …".
//   - Requests are counted by route (Counter).
package influxdb3test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine/testserver"
)

// Variant is the field name a server parses: "resource_names" or "resource_identifier".
type Variant struct {
	// Field is the name the server parses.
	Field string
	// Strict refuses unknown fields with 422 (serde deny_unknown_fields behind axum's Json
	// extractor) instead of answering 400 for the missing one.
	Strict bool
}

// Server is the test server. Create it with Start.
type Server struct {
	// URL is the server's base URL; AdminToken is accepted as Bearer.
	URL        string
	AdminToken string
	// Counter counts requests by route.
	Counter testserver.Counter

	variant Variant
	mu      sync.Mutex
	tokens  map[string][]string // token name → the resource names it was granted
	nextID  int
}

// Start starts a server of variant v for t.
func Start(t testing.TB, v Variant) *Server {
	s := &Server{variant: v, tokens: map[string][]string{},
		AdminToken: "apiv3_" + base64.RawURLEncoding.EncodeToString(testserver.RandomBytes(64))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v3/enterprise/configure/token", s.create)
	srv := httptest.NewServer(s.Counter.Wrap(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Granted returns the resource names the token called name was created with, or nil.
func (s *Server) Granted(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[name]
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if testserver.Credential(r, "Bearer") != s.AdminToken {
		testserver.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "the request was not authenticated"})
		return
	}
	var body struct {
		TokenName   string                       `json:"token_name"`
		Permissions []map[string]json.RawMessage `json:"permissions"`
		ExpirySecs  *int64                       `json:"expiry_secs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "Json deserialize error: "+err.Error(), http.StatusBadRequest)
		return
	}
	other := "resource_identifier"
	if s.variant.Field == other {
		other = "resource_names"
	}
	var granted []string
	for _, p := range body.Permissions {
		if _, ok := p[other]; ok && s.variant.Strict {
			http.Error(w, fmt.Sprintf("Failed to deserialize the JSON body into the target type: permissions[0]: unknown field `%s`, expected one of `resource_type`, `%s`, `actions`", other, s.variant.Field), http.StatusUnprocessableEntity)
			return
		}
		raw, ok := p[s.variant.Field]
		if !ok {
			http.Error(w, fmt.Sprintf("Json deserialize error: permissions[0]: missing field `%s`", s.variant.Field), http.StatusBadRequest)
			return
		}
		var names []string
		if err := json.Unmarshal(raw, &names); err != nil {
			http.Error(w, "Json deserialize error: "+err.Error(), http.StatusBadRequest)
			return
		}
		granted = append(granted, names...)
	}
	s.mu.Lock()
	if _, dup := s.tokens[body.TokenName]; dup {
		s.mu.Unlock()
		http.Error(w, "token name already exists, "+body.TokenName, http.StatusConflict)
		return
	}
	s.tokens[body.TokenName] = granted
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	now := time.Now().UTC()
	var expiry any
	if body.ExpirySecs != nil {
		expiry = now.Add(time.Duration(*body.ExpirySecs) * time.Second).Format(time.RFC3339)
	}
	testserver.WriteJSON(w, http.StatusCreated, map[string]any{"id": id, "name": body.TokenName,
		"token": "apiv3_" + base64.RawURLEncoding.EncodeToString(testserver.RandomBytes(64)), "created_at": now.Format(time.RFC3339), "expiry": expiry})
}
