package engine

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an engine error by what the caller should do about it.
type Kind int

const (
	// Transient errors (network, timeouts, 5xx, anything unclassified) are retried with backoff.
	Transient Kind = iota
	// Permanent errors (a bad request, a permission shape the engine cannot express) will not
	// succeed on retry: the resource gets a terminal condition until its spec changes (the token
	// lifecycle returns reconcile.TerminalError, lifecycle.MapError).
	Permanent
	// Pending means the engine asked us to wait (RequeueAfter), e.g. a database that does not
	// exist yet or a token still activating. Not a failure.
	Pending
	// Conflict means a token of the requested name already exists (the crash-recovery path).
	Conflict
	// NotFound means the named token does not exist.
	NotFound
	// Unauthorized means the engine refused our credentials: a condition on the engine resource.
	Unauthorized
	// Unusable means the engine resource cannot serve the request now: it does not exist, is not
	// Ready, does not permit the namespace or the request, or its credentials are missing.
	// Reason is the token's condition reason; the token retries later (internal/engineref).
	Unusable
)

var kindNames = map[Kind]string{
	Transient: "Transient", Permanent: "Permanent", Pending: "Pending",
	Conflict: "Conflict", NotFound: "NotFound", Unauthorized: "Unauthorized", Unusable: "Unusable",
}

// String returns the kind's CamelCase name.
func (k Kind) String() string { return kindNames[k] }

// Error is the typed error every adapter returns. Message must never contain a token.
type Error struct {
	Kind Kind
	// Reason is a CamelCase word for a condition reason, e.g. "DatabaseNotFound". Optional.
	Reason string
	// Message says what happened and, where possible, what to do.
	Message string
	// RequeueAfter is how long to wait before trying again, for Pending errors.
	RequeueAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns a Transient error.
func Errorf(format string, args ...any) *Error { return newError(Transient, format, args...) }

// PermanentErrorf returns a Permanent error.
func PermanentErrorf(format string, args ...any) *Error { return newError(Permanent, format, args...) }

// ConflictErrorf returns a Conflict error.
func ConflictErrorf(format string, args ...any) *Error { return newError(Conflict, format, args...) }

// NotFoundErrorf returns a NotFound error.
func NotFoundErrorf(format string, args ...any) *Error { return newError(NotFound, format, args...) }

// UnauthorizedErrorf returns an Unauthorized error.
func UnauthorizedErrorf(format string, args ...any) *Error {
	return newError(Unauthorized, format, args...)
}

// UnusableErrorf returns an Unusable error with the condition reason.
func UnusableErrorf(reason, format string, args ...any) *Error {
	e := newError(Unusable, format, args...)
	e.Reason = reason
	return e
}

// AsUnusable returns err's *Error when it is Unusable.
func AsUnusable(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.Kind == Unusable {
		return e, true
	}
	return nil, false
}

// PendingErrorf returns a Pending error asking the caller to retry after d.
func PendingErrorf(d time.Duration, format string, args ...any) *Error {
	e := newError(Pending, format, args...)
	e.RequeueAfter = d
	return e
}

// WithReason sets the condition reason and returns e, for chaining.
func (e *Error) WithReason(reason string) *Error { e.Reason = reason; return e }

// WithCause sets the underlying cause and returns e, for chaining.
func (e *Error) WithCause(err error) *Error { e.Err = err; return e }

// KindOf classifies any error; errors that are not *Error are Transient, so that a transient
// failure is never mistaken for a permanent one.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Transient
}

// IsConflict, IsNotFound, IsUnauthorized, IsPermanent and IsPending test the kind of err.
func IsConflict(err error) bool     { return err != nil && KindOf(err) == Conflict }
func IsNotFound(err error) bool     { return err != nil && KindOf(err) == NotFound }
func IsUnauthorized(err error) bool { return err != nil && KindOf(err) == Unauthorized }
func IsPermanent(err error) bool    { return err != nil && KindOf(err) == Permanent }
func IsPending(err error) bool      { return err != nil && KindOf(err) == Pending }

// ReasonOf returns the condition reason carried by err, or "" if none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
