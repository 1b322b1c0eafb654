package tokenengine

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/tokenops/token-operator/internal/httpstatus"
)

// Paths the engine serves, as on InfluxDB 3 Enterprise, plus the authorize and probe paths.
const (
	PathAdminToken      = "/api/v3/configure/token/admin"
	PathRegenerateAdmin = "/api/v3/configure/token/admin/regenerate"
	PathNamedAdminToken = "/api/v3/configure/token/named_admin"
	PathResourceToken   = "/api/v3/enterprise/configure/token"
	PathDeleteToken     = "/api/v3/configure/token"
	PathQuerySQL        = "/api/v3/query_sql"
	PathAuthorize       = "/api/v3/authorize"
	PathLivez           = "/livez"
	PathReadyz          = "/readyz"
)

func (e *Engine) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, e.instrument(pattern, h)) }
	handle("POST "+PathAdminToken, e.handleCreateAdmin)
	handle("POST "+PathRegenerateAdmin, e.handleRegenerateAdmin)
	handle("POST "+PathNamedAdminToken, e.handleCreateNamedAdmin)
	handle("POST "+PathResourceToken, e.handleCreateResourceToken)
	handle("DELETE "+PathDeleteToken, e.handleDeleteToken)
	handle("GET "+PathQuerySQL, e.handleQuerySQL)
	handle("POST "+PathQuerySQL, e.handleQuerySQL)
	// Any method: Envoy's ext_authz HTTP service forwards the original method and appends the
	// original path to the configured prefix.
	handle(PathAuthorize, e.handleAuthorize)
	handle(PathAuthorize+"/", e.handleAuthorize)
	handle("GET /health", e.system("health", e.handleHealth))
	handle("GET /api/v1/health", e.system("health", e.handleHealth))
	handle("GET /ping", e.system("ping", e.handlePing))
	handle("POST /ping", e.system("ping", e.handlePing))
	handle("GET /ready", e.system("ready", e.handleHealth))
	handle("GET /metrics", e.system("metrics", e.metrics.handler().ServeHTTP))
	handle("GET "+PathLivez, e.handleLivez)
	handle("GET "+PathReadyz, e.handleReadyz)
	return mux
}

// instrument counts and logs a request by route pattern. It logs the path only: query strings
// can carry a token (?p=) and headers and bodies always can.
func (e *Engine) instrument(pattern string, h http.HandlerFunc) http.Handler {
	level := slog.LevelInfo
	if pattern == PathAuthorize || pattern == PathAuthorize+"/" || pattern == "GET "+PathLivez || pattern == "GET "+PathReadyz {
		level = slog.LevelDebug
	}
	probe := pattern == "GET "+PathLivez || pattern == "GET "+PathReadyz
	authz := pattern == PathAuthorize || pattern == PathAuthorize+"/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpstatus.Writer{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, MaxBodyBytes)
		if err := e.store.Ready(); err != nil && !probe {
			// Fail closed: a store whose reads may be stale could call a revoked token valid
			// (docs/token-engine.md, "Replicas").
			if authz {
				e.metrics.decisions[decisionUnavailable].Inc()
			}
			writeJSONError(sw, http.StatusServiceUnavailable, msgStoreNotReady)
		} else {
			h(sw, r)
		}
		if sw.Code == 0 {
			sw.Code = http.StatusOK
		}
		e.metrics.observe(pattern, sw.Code)
		if e.log.Enabled(r.Context(), level) {
			e.log.LogAttrs(r.Context(), level, "Served request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.Code), slog.Duration("duration", time.Since(start)))
		}
	})
}
