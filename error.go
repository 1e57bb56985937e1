package hindsight

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one exit status in exactly one place.
const (
	EINVALID      = "invalid"      // the caller sent something malformed
	ENOTFOUND     = "not_found"    // no such thing, or not visible to the caller's tenant
	ECONFLICT     = "conflict"     // the request conflicts with the current state (e.g. a lock)
	EUNAUTHORIZED = "unauthorized" // no credentials or wrong credentials
	EFORBIDDEN    = "forbidden"    // credentials valid, role insufficient
	ETOOLARGE     = "too_large"    // the request body is larger than allowed
	ERATELIMIT    = "rate_limited" // too many requests for this key
	EUNAVAILABLE  = "unavailable"  // a dependency (store, model) cannot be reached
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details are logged, not shown
)

// Error is an error meant to be shown to a user: a code, a message safe to show and, for invalid
// input, the field (JSON field, flag or file:line) it concerns. Errors that are not *Error are
// internal: their text is logged and never shown.
type Error struct {
	Code    string
	Message string
	Field   string // empty when the error concerns no single field
	Err     error  // the cause, if any; never shown to users
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error about field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error and
// "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic message for an
// internal error, so that internals never reach a user.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field of the first *Error in err's chain, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
