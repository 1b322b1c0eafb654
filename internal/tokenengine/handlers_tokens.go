package tokenengine

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// TimeFormat is how the token object spells created_at and expiry: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// TokenObject is the 201 body of every create and regenerate call
// (InfluxDB 3's CreateTokenWithPermissionsResponse).
type TokenObject struct {
	ID        uint64  `json:"id"`
	Name      string  `json:"name"`
	Token     string  `json:"token"`
	Hash      string  `json:"hash"`
	CreatedAt string  `json:"created_at"`
	Expiry    *string `json:"expiry"`
}

func tokenObject(r *Record, tok string) TokenObject {
	o := TokenObject{ID: r.ID, Name: r.Name, Token: tok, Hash: r.Digest.Hex(), CreatedAt: r.CreatedAt.UTC().Format(TimeFormat)}
	if r.Expiry != nil {
		s := r.Expiry.UTC().Format(TimeFormat)
		o.Expiry = &s
	}
	return o
}

// authenticate answers 400 for a malformed Authorization header and 401 for a missing, unknown
// or expired token, as the real server does, and returns the caller's record otherwise.
func (e *Engine) authenticate(w http.ResponseWriter, r *http.Request) *Record {
	tok, res := tokenFromHeader(r.Header.Get("Authorization"))
	switch res {
	case credMalformed:
		writeJSONError(w, http.StatusBadRequest, msgMalformedAuth)
		return nil
	case credNone:
		writeJSONError(w, http.StatusUnauthorized, msgUnauthenticated)
		return nil
	}
	rec := e.tokens.authenticate(tok)
	if rec == nil {
		writeJSONError(w, http.StatusUnauthorized, msgUnauthenticated)
	}
	return rec
}

// requireAdmin authenticates and then answers 403 unless the caller holds an admin token.
func (e *Engine) requireAdmin(w http.ResponseWriter, r *http.Request) *Record {
	rec := e.authenticate(w, r)
	if rec != nil && !rec.Admin {
		writeJSONError(w, http.StatusForbidden, msgForbidden)
		return nil
	}
	return rec
}

// readJSONBody reads a capped body and refuses non-JSON content types with 415, as the real
// server does for named_admin; a missing Content-Type is accepted.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "json") {
			writeJSONError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return nil, false
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("request body is larger than the limit of %d bytes", MaxBodyBytes))
		} else {
			writeJSONError(w, http.StatusBadRequest, "could not read the request body")
		}
		return nil, false
	}
	return body, true
}

// adminCreate authenticates an admin and decodes the create request's body; when ok is false
// the answer has been written.
func adminCreate[T any](e *Engine, w http.ResponseWriter, r *http.Request, decode func([]byte) (*T, error)) (caller *Record, req *T, ok bool) {
	if caller = e.requireAdmin(w, r); caller == nil {
		return nil, nil, false
	}
	body, ok := readJSONBody(w, r)
	if !ok {
		return nil, nil, false
	}
	req, err := decode(body)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return nil, nil, false
	}
	return caller, req, true
}

func (e *Engine) handleCreateResourceToken(w http.ResponseWriter, r *http.Request) {
	caller, req, ok := adminCreate(e, w, r, DecodeCreateRequest)
	if !ok {
		return
	}
	e.respondCreated(w, newRecord{name: req.TokenName, permissions: req.Permissions, expirySecs: req.ExpirySecs, createdBy: &caller.ID})
}

func (e *Engine) handleCreateNamedAdmin(w http.ResponseWriter, r *http.Request) {
	caller, req, ok := adminCreate(e, w, r, DecodeNamedAdminRequest)
	if !ok {
		return
	}
	e.respondCreated(w, newRecord{name: req.TokenName, admin: true, expirySecs: req.ExpirySecs, createdBy: &caller.ID})
}

func (e *Engine) respondCreated(w http.ResponseWriter, n newRecord) {
	rec, tok, err := e.tokens.create(n)
	if e.createFailed(w, n.name, err, "Failed to create token") {
		return
	}
	e.metrics.created.Inc()
	e.log.Info("Created token", "id", rec.ID, "admin", rec.Admin)
	writeJSON(w, http.StatusCreated, tokenObject(rec, tok))
}

// createFailed answers a create of token name that failed with err, as InfluxDB 3 does (409 for
// a name that exists, 500 otherwise, logged as failed), and reports whether it did.
func (e *Engine) createFailed(w http.ResponseWriter, name string, err error, failed string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNameExists):
		writeText(w, http.StatusConflict, "token name already exists, "+name)
	default:
		e.log.Error(failed, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "failed to store the token")
	}
	return true
}

// handleCreateAdmin is the unauthenticated bootstrap of the operator token. Like the real server
// it answers 409 once _admin exists; unlike it, it is refused unless enabled by flag, because the
// normal bootstrap is the admin token file.
func (e *Engine) handleCreateAdmin(w http.ResponseWriter, r *http.Request) {
	if e.tokens.byName(AdminTokenName) != nil {
		writeText(w, http.StatusConflict, "token name already exists, "+AdminTokenName)
		return
	}
	if !e.cfg.EnableUnauthenticatedAdminBootstrap {
		writeJSONError(w, http.StatusForbidden, "unauthenticated admin token creation is disabled; bootstrap with --admin-token-file or start the engine with --enable-unauthenticated-admin-bootstrap")
		return
	}
	tok, d, err := newToken()
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "failed to generate a token")
		return
	}
	rec, err := e.tokens.createAdminIfMissing(d)
	if e.createFailed(w, AdminTokenName, err, "Failed to create operator token") {
		return
	}
	e.metrics.created.Inc()
	e.log.Info("Created the operator token through the unauthenticated bootstrap")
	writeJSON(w, http.StatusCreated, tokenObject(rec, tok))
}

// handleRegenerateAdmin gives the operator token a new string, keeping its id and its expiry;
// the old string stops working at once. Only the operator token itself may do this: a named admin
// token gets 403, as on InfluxDB 3 (it could otherwise take the operator token over).
func (e *Engine) handleRegenerateAdmin(w http.ResponseWriter, r *http.Request) {
	caller := e.requireAdmin(w, r)
	if caller == nil {
		return
	}
	cur := e.tokens.byName(AdminTokenName)
	if cur == nil {
		writeText(w, http.StatusNotFound, "the requested resource was not found: "+AdminTokenName)
		return
	}
	if caller.Name != AdminTokenName {
		writeJSONError(w, http.StatusForbidden, "only the operator token may regenerate the operator token")
		return
	}
	tok, d, err := newToken()
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "failed to generate a token")
		return
	}
	rec, err := e.tokens.setAdminDigest(d, cur.Expiry, &caller.ID)
	if err != nil {
		e.log.Error("Failed to regenerate operator token", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "failed to store the token")
		return
	}
	e.log.Info("Regenerated the operator token", "byTokenID", caller.ID)
	writeJSON(w, http.StatusCreated, tokenObject(rec, tok))
}

func (e *Engine) handleDeleteToken(w http.ResponseWriter, r *http.Request) {
	if e.requireAdmin(w, r) == nil {
		return
	}
	q := r.URL.Query()
	if !q.Has("token_name") || q.Get("token_name") == "" {
		writeJSONError(w, http.StatusBadRequest, "missing query parameter token_name")
		return
	}
	name := q.Get("token_name")
	switch err := e.tokens.delete(name); {
	case errors.Is(err, errOperatorToken):
		writeText(w, http.StatusMethodNotAllowed, "cannot delete operator token")
	case errors.Is(err, ErrNotFound):
		writeText(w, http.StatusNotFound, "the requested resource was not found: "+name)
	case err != nil:
		e.log.Error("Failed to delete token", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "failed to delete the token")
	default:
		e.metrics.deleted.Inc()
		e.log.Info("Deleted token")
		w.WriteHeader(http.StatusOK)
	}
}
