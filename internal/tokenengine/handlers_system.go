package tokenengine

import (
	"crypto/rand"
	"net/http"
)

// Version is what /ping reports as the server version.
const Version = "tokenengine-1"

// processID identifies this process in /ping, like InfluxDB 3's process_id.
var processID = rand.Text()

// system gates a system endpoint like InfluxDB 3 does: the admin token, or a token with
// system read permission naming the resource (or *).
func (e *Engine) system(resource string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := e.authenticate(w, r)
		if rec == nil {
			return
		}
		if !rec.allows(ResourceSystem, resource, ActionRead) {
			writeJSONError(w, http.StatusForbidden, msgForbidden)
			return
		}
		h(w, r)
	}
}

func (e *Engine) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "OK")
}

func (e *Engine) handlePing(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": Version, "revision": "", "process_id": processID})
}

// handleLivez is the unauthenticated liveness probe.
func (e *Engine) handleLivez(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// handleReadyz is the unauthenticated readiness probe: ready while the store is open and its
// reads are current. The reason is logged by the store, not told to anyone who asks.
func (e *Engine) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if !e.ready.Load() || e.store.Ready() != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready")
		return
	}
	writeText(w, http.StatusOK, "ok")
}
