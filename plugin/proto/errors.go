package proto

import (
	"fmt"
	"strings"
)

// Error is the error response a failing plugin writes to stderr before
// exiting non-zero (PROC-1):
//
//	{"errorCode":"ACCESS_DENIED","errorMessage":"…","errorMetadata":{"k":"v"}}
//
// It is also the error Validate returns, with Code VALIDATION_ERROR (or
// UNSUPPORTED_CONTRACT_VERSION), so a plugin can write a failed
// validation to stderr as it is.
type Error struct {
	Code     ErrorCode         `json:"errorCode"`
	Message  string            `json:"errorMessage,omitempty"`
	Metadata map[string]string `json:"errorMetadata,omitempty"`
}

var _ error = (*Error)(nil)

// Error returns "CODE: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Validate checks that the error names a code. An unknown code is
// accepted: the host treats it as ERROR but reports it as given.
func (e *Error) Validate() error {
	if e.Code == "" {
		return invalid("errorCode cannot be empty")
	}
	if strings.TrimSpace(string(e.Code)) != string(e.Code) {
		return invalid("errorCode %q has surrounding white space", e.Code)
	}
	return nil
}

// invalid builds the VALIDATION_ERROR every Validate method returns.
func invalid(format string, args ...any) *Error {
	return &Error{Code: ErrorCodeValidation, Message: fmt.Sprintf(format, args...)}
}
