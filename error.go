package flinkplane

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to exactly one AWS exception in
// awsapi's error table; anything else returned by a component becomes
// EINTERNAL and its text never reaches the client.
const (
	EINVALID        = "invalid"         // InvalidArgumentException
	EINVALIDREQUEST = "invalid_request" // InvalidRequestException
	EINVALIDCONFIG  = "invalid_config"  // InvalidApplicationConfigurationException
	ECODE           = "code"            // CodeValidationException
	ENOTFOUND       = "not_found"       // ResourceNotFoundException
	EINUSE          = "in_use"          // ResourceInUseException
	ECONFLICT       = "conflict"        // ConcurrentModificationException
	ELIMIT          = "limit"           // LimitExceededException
	ETOOMANYTAGS    = "too_many_tags"   // TooManyTagsException
	EUNSUPPORTED    = "unsupported"     // UnsupportedOperationException
	EUNAVAILABLE    = "unavailable"     // ServiceUnavailableException
	EUNAUTHORIZED   = "unauthorized"    // 403 signature / credential errors
	EINTERNAL       = "internal"        // anything else
)

// Error is an application error: a code from the list above and a message a
// person can act on. It is safe to show Message to the client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("flinkplane error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err if it is (or wraps) an *Error and a
// generic message for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
