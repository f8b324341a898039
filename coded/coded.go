// Package coded owns the gateway's coded errors: a machine-readable code and a
// message safe to show an operator or citizen. The web layer maps codes to
// HTTP statuses; anything that is not a coded error is internal, logged, and
// shown only as "internal".
package coded

import (
	"errors"
	"fmt"
)

// Kind groups codes by how a client should react; web maps it to a status.
type Kind int

const (
	Invalid      Kind = iota + 1 // 400
	Unauthorized                 // 401
	Forbidden                    // 403
	NotFound                     // 404
	Conflict                     // 409
	TooLarge                     // 413
	TooMany                      // 429
	Unavailable                  // 503
)

// Error is an error with a stable code and a safe message.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New makes a coded error.
func New(kind Kind, code, format string, a ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, a...)}
}

// As extracts a coded error from err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
