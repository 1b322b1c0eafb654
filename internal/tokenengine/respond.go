package tokenengine

import (
	"encoding/json"
	"net/http"

	"github.com/tokenops/token-operator/internal/influxaccess"
)

// Error messages the real server sends; clients match on them.
const (
	msgUnauthenticated = "the request was not authenticated"
	msgForbidden       = "unauthorized to perform requested action with the token"
	msgMalformedAuth   = influxaccess.MsgMalformedAuth
	// msgStoreNotReady answers every request but the probes while the store's reads may be stale.
	msgStoreNotReady = "the token store is not in sync; try another replica or retry shortly"
)

// writeJSONError sends {"error": msg}, the shape InfluxDB 3 uses for 400, 401 and 403.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error encoding the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeText sends a plain-text body, the shape of InfluxDB 3's catalog errors (404, 405, 409).
func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}
