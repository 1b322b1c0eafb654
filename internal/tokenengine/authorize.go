package tokenengine

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Headers gateways use to tell an auth service what the original request was.
const (
	// HeaderForwardedURI is sent by Traefik ForwardAuth.
	HeaderForwardedURI = "X-Forwarded-Uri"
	// HeaderForwardedMethod is sent by Traefik ForwardAuth.
	HeaderForwardedMethod = "X-Forwarded-Method"
	// HeaderOriginalURI is what NGINX auth_request configurations conventionally set.
	HeaderOriginalURI = "X-Original-URI"
	// HeaderOriginalMethod is what NGINX auth_request configurations conventionally set.
	HeaderOriginalMethod = "X-Original-Method"
)

// access is what a request needs: an action on one resource.
type access struct {
	resourceType, name, action string
}

// decision is the answer of the authorize endpoint.
type decision struct {
	code    int
	kind    string
	message string
}

var (
	allow           = decision{http.StatusNoContent, decisionAllow, ""}
	unauthenticated = decision{http.StatusUnauthorized, decisionUnauthenticated, msgUnauthenticated}
	forbidden       = decision{http.StatusForbidden, decisionForbidden, msgForbidden}
)

func badRequest(format string, args ...any) decision {
	return decision{http.StatusBadRequest, decisionBadRequest, fmt.Sprintf(format, args...)}
}

// handleAuthorize answers 204 (allow), 401 (no valid token), 403 (not permitted) or 400.
//
// Called directly it reads ?db=&action=. Behind a gateway it reads the original request instead:
// Envoy ext_authz appends the original path to this path; NGINX auth_request and Traefik
// ForwardAuth send it in X-Original-URI / X-Forwarded-Uri.
func (e *Engine) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	d := e.decide(r)
	e.metrics.decisions[d.kind].Inc()
	if d.code == http.StatusNoContent {
		w.WriteHeader(d.code)
		return
	}
	writeJSONError(w, d.code, d.message)
}

func (e *Engine) decide(r *http.Request) decision {
	need, v1Token, d := requestedAccess(r)
	if d.code != 0 {
		return d
	}
	tok, res := tokenFromHeader(r.Header.Get("Authorization"))
	switch {
	case res == credMalformed:
		return badRequest(msgMalformedAuth)
	case res == credNone && v1Token != "":
		tok = v1Token
	case res == credNone:
		return unauthenticated
	}
	rec := e.tokens.authenticate(tok)
	switch {
	case rec == nil:
		return unauthenticated
	case rec.Admin:
		return allow
	case need == nil:
		return forbidden
	case rec.allows(need.resourceType, need.name, need.action):
		return allow
	}
	return forbidden
}

// requestedAccess works out what the request asks for. A nil access with no error decision means
// an original path the engine cannot map, which only an admin token may pass.
func requestedAccess(r *http.Request) (*access, string, decision) {
	if rest, ok := strings.CutPrefix(r.URL.Path, PathAuthorize+"/"); ok {
		return mapOriginal("/"+rest, r.URL.Query())
	}
	for _, h := range []string{HeaderForwardedURI, HeaderOriginalURI} {
		if raw := r.Header.Get(h); raw != "" {
			u, err := url.ParseRequestURI(raw)
			if err != nil {
				return nil, "", badRequest("%s is not a request URI", h)
			}
			return mapOriginal(u.Path, u.Query())
		}
	}
	q := r.URL.Query()
	db, action := q.Get("db"), q.Get("action")
	switch {
	case db == "":
		return nil, "", badRequest("missing query parameter db (the database to check)")
	case action != ActionRead && action != ActionWrite:
		return nil, "", badRequest("query parameter action must be read or write, got %q", action)
	}
	return &access{ResourceDB, db, action}, "", decision{}
}

// mapOriginal maps InfluxDB's write and query paths (v3, v2 and v1) and system paths to the
// permission they need, and returns the v1 ?p= credential where InfluxDB accepts one.
func mapOriginal(path string, q url.Values) (*access, string, decision) {
	v1Token, _ := tokenFromV1Query(path, q)
	dbFrom := func(param, action string) (*access, string, decision) {
		db := q.Get(param)
		if db == "" {
			return nil, "", badRequest("the original request to %s has no %s parameter, so the database is unknown", path, param)
		}
		return &access{ResourceDB, db, action}, v1Token, decision{}
	}
	switch path {
	case "/api/v3/write_lp", "/write":
		return dbFrom("db", ActionWrite)
	case "/api/v2/write":
		return dbFrom("bucket", ActionWrite)
	case "/api/v3/query_sql", "/api/v3/query_influxql", "/query":
		return dbFrom("db", ActionRead)
	case "/health", "/api/v1/health":
		return &access{ResourceSystem, "health", ActionRead}, "", decision{}
	case "/ping":
		return &access{ResourceSystem, "ping", ActionRead}, "", decision{}
	case "/ready":
		return &access{ResourceSystem, "ready", ActionRead}, "", decision{}
	case "/metrics":
		return &access{ResourceSystem, "metrics", ActionRead}, "", decision{}
	}
	return nil, v1Token, decision{}
}
