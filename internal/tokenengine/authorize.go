package tokenengine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenops/token-operator/internal/influxaccess"
)

// Headers gateways use to tell an auth service what the original request was.
const (
	// HeaderForwardedURI is set by Traefik ForwardAuth (it overwrites the client's copy).
	HeaderForwardedURI = "X-Forwarded-Uri"
	// HeaderForwardedMethod is set by Traefik ForwardAuth (it overwrites the client's copy).
	HeaderForwardedMethod = "X-Forwarded-Method"
	// HeaderOriginalURI is set by the NGINX auth_request configuration in docs/gateway.md.
	HeaderOriginalURI = "X-Original-URI"
	// HeaderOriginalMethod is set by the NGINX auth_request configuration in docs/gateway.md.
	HeaderOriginalMethod = "X-Original-Method"
	// HeaderEnvoyPartialBody is set by Envoy ext_authz when the forwarded body was cut short.
	HeaderEnvoyPartialBody = "X-Envoy-Auth-Partial-Body"
)

// Authorize modes: the path segment after /api/v3/authorize/ names the gateway that calls, and
// the engine reads the original request only from what that gateway sets.
const (
	// ModeNGINX reads X-Original-URI and X-Original-Method (NGINX auth_request).
	ModeNGINX = "nginx"
	// ModeTraefik reads X-Forwarded-Uri and X-Forwarded-Method (Traefik ForwardAuth).
	ModeTraefik = "traefik"
	// ModeEnvoy reads the method and the path Envoy's HTTP ext_authz appends to path_prefix.
	ModeEnvoy = "envoy"
	// ModeEnvoyBody is ModeEnvoy with with_request_body: the body is the original body.
	ModeEnvoyBody = "envoy-body"
	// ModeCheck takes a JSON list of permissions (what the gateway proxy sends).
	ModeCheck = "check"
)

// gatewayHeaders are the headers that carry an original request in one mode or another; a
// request that has one its mode does not read is refused as conflicting.
var gatewayHeaders = []string{HeaderOriginalURI, HeaderOriginalMethod, HeaderForwardedURI, HeaderForwardedMethod}

const msgMigrate = "this authorize path no longer reads gateway headers or appended paths; call " +
	PathAuthorize + "/nginx, /traefik, /envoy or /envoy-body as docs/gateway.md shows"

// decision is the answer of the authorize endpoint.
type decision struct {
	code    int
	kind    string
	message string
}

var (
	allow           = decision{http.StatusOK, decisionAllow, ""}
	unauthenticated = decision{http.StatusUnauthorized, decisionUnauthenticated, msgUnauthenticated}
)

func badRequest(format string, args ...any) decision {
	return decision{http.StatusBadRequest, decisionBadRequest, fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) decision {
	return decision{http.StatusForbidden, decisionForbidden, msgForbidden + ": " + fmt.Sprintf(format, args...)}
}

// handleAuthorize answers 200 (allow), 401 (no valid token), 403 (not permitted) or 400 (the
// original request is malformed, ambiguous or cannot be read from what the gateway sent).
func (e *Engine) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	d := e.decide(r)
	e.metrics.decisions[d.kind].Inc()
	if d.kind == decisionAllow {
		w.WriteHeader(d.code)
		return
	}
	writeJSONError(w, d.code, d.message)
}

func (e *Engine) decide(r *http.Request) decision {
	rest, _ := strings.CutPrefix(r.URL.EscapedPath(), PathAuthorize)
	mode, _, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "":
		return e.decideDirect(r)
	case mode == ModeCheck && rest == "/"+ModeCheck:
		return e.decideCheck(r)
	case mode == ModeNGINX || mode == ModeTraefik || mode == ModeEnvoy || mode == ModeEnvoyBody:
		orig, d := originalRequest(r, mode)
		if d.code != 0 {
			return d
		}
		return e.decideOriginal(orig, r.Header.Values("Authorization"))
	}
	return badRequest(msgMigrate)
}

// decideOriginal maps the original request and checks the token it presents.
func (e *Engine) decideOriginal(orig influxaccess.Request, authorization []string) decision {
	need, err := influxaccess.Map(orig)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	tok, err := influxaccess.Credential(orig, authorization)
	switch {
	case errors.Is(err, influxaccess.ErrNoCredential):
		return unauthenticated
	case err != nil:
		return badRequest("%s", err.Error())
	}
	return e.judge(tok, need)
}

// judge checks a presented token against what the request needs. Messages name the token, never
// the databases or the statement of the request.
func (e *Engine) judge(tok string, need influxaccess.Need) decision {
	rec := e.tokens.authenticate(tok)
	switch {
	case rec == nil:
		return unauthenticated
	case rec.Admin:
		return allow
	case need.Hidden != "":
		return forbidden("%s", need.Hidden)
	case need.Admin:
		return forbidden("token %q is not an admin token, and this request needs one", rec.Name)
	case len(need.Permissions) == 0:
		return forbidden("the request needs nothing a resource token can grant")
	}
	for _, p := range need.Permissions {
		if !rec.allows(p.ResourceType, p.Name, p.Action) {
			return forbidden("token %q does not grant %s %s on every resource this request uses", rec.Name, p.ResourceType, p.Action)
		}
	}
	return allow
}

// originalRequest reads the original request from what the gateway of mode sets, and refuses
// duplicated or conflicting sources.
func originalRequest(r *http.Request, mode string) (influxaccess.Request, decision) {
	var uriHeader, methodHeader string
	switch mode {
	case ModeNGINX:
		uriHeader, methodHeader = HeaderOriginalURI, HeaderOriginalMethod
	case ModeTraefik:
		uriHeader, methodHeader = HeaderForwardedURI, HeaderForwardedMethod
	}
	for _, h := range gatewayHeaders {
		if n := len(r.Header.Values(h)); (h == uriHeader || h == methodHeader) && n != 1 {
			return influxaccess.Request{}, badRequest("mode %s needs exactly one %s header, got %d", mode, h, n)
		} else if h != uriHeader && h != methodHeader && n != 0 {
			return influxaccess.Request{}, badRequest("mode %s does not read %s, and a request that has it is refused as conflicting", mode, h)
		}
	}
	orig := influxaccess.Request{Method: r.Method, ContentType: r.Header.Get("Content-Type")}
	uri := strings.TrimPrefix(r.RequestURI, PathAuthorize+"/"+mode)
	if uriHeader != "" {
		if !strings.HasPrefix(r.RequestURI, PathAuthorize+"/"+mode) || len(uri) > 0 {
			return orig, badRequest("mode %s takes the original request from headers, not from the path", mode)
		}
		uri, orig.Method = r.Header.Get(uriHeader), r.Header.Get(methodHeader)
		orig.ContentType = ""
	}
	if _, err := url.ParseRequestURI(uri); err != nil || !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, "# \t") {
		return orig, badRequest("the original request URI is not an origin-form request target")
	}
	orig.Path, orig.RawQuery, _ = strings.Cut(uri, "?")
	if mode == ModeEnvoyBody {
		if strings.EqualFold(r.Header.Get(HeaderEnvoyPartialBody), "true") {
			return orig, badRequest("Envoy forwarded part of the body only; raise with_request_body.max_request_bytes or lower the client's body size")
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return orig, badRequest("the forwarded body could not be read (at most %d bytes)", MaxBodyBytes)
		}
		orig.Body, orig.BodyKnown = b, true
	}
	return orig, decision{}
}

// decideDirect answers GET /api/v3/authorize?db=NAME&action=read|write (Authorization header
// only) with 204 for allow. It refuses gateway headers: the per-gateway modes read those.
func (e *Engine) decideDirect(r *http.Request) decision {
	for _, h := range gatewayHeaders {
		if r.Header.Get(h) != "" {
			return badRequest(msgMigrate)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["db"]) > 1 || len(q["action"]) > 1 {
		return badRequest("the query string is malformed or repeats db or action")
	}
	db, action := q.Get("db"), q.Get("action")
	switch {
	case db == "":
		return badRequest("missing query parameter db (the database to check)")
	case action != ActionRead && action != ActionWrite:
		return badRequest("query parameter action must be read or write")
	}
	d := e.judgeHeader(r, influxaccess.Need{Permissions: []influxaccess.Permission{{ResourceType: ResourceDB, Name: db, Action: action}}})
	if d.kind == decisionAllow {
		// The direct form answers 204 as it always has; only gateways need 200.
		d.code = http.StatusNoContent
	}
	return d
}

// CheckRequest is the body of POST /api/v3/authorize/check: what a request needs, as the gateway
// proxy mapped it. The token is in the Authorization header.
type CheckRequest struct {
	Admin       bool              `json:"admin,omitempty"`
	Permissions []CheckPermission `json:"permissions,omitempty"`
}

// CheckPermission is one permission a CheckRequest needs.
type CheckPermission struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	Action       string `json:"action"`
}

// decideCheck answers POST /api/v3/authorize/check.
func (e *Engine) decideCheck(r *http.Request) decision {
	if r.Method != http.MethodPost {
		return badRequest("%s/%s takes POST", PathAuthorize, ModeCheck)
	}
	var c CheckRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || (!c.Admin && len(c.Permissions) == 0) {
		return badRequest("the body must be a JSON check request with admin or permissions")
	}
	need := influxaccess.Need{Admin: c.Admin}
	for _, p := range c.Permissions {
		need.Permissions = append(need.Permissions, influxaccess.Permission{ResourceType: p.ResourceType, Name: p.ResourceName, Action: p.Action})
	}
	return e.judgeHeader(r, need)
}

// judgeHeader checks the token of the Authorization header (the only place direct and check
// callers may put it) against need.
func (e *Engine) judgeHeader(r *http.Request, need influxaccess.Need) decision {
	if len(r.Header.Values("Authorization")) > 1 {
		return badRequest("more than one Authorization header")
	}
	tok, res := tokenFromHeader(r.Header.Get("Authorization"))
	switch res {
	case credMalformed:
		return badRequest(msgMalformedAuth)
	case credNone:
		return unauthenticated
	}
	return e.judge(tok, need)
}
