package proto

import (
	"bytes"
	"encoding/json"
)

// MaxMessageBytes bounds a message Decode accepts: one byte under 64 MiB,
// the limit the specification states for each plugin output stream
// (PROC-3, digest §0.5).
const MaxMessageBytes = 64<<20 - 1

// Message is a request or a response: anything Decode can fill.
type Message interface {
	Validate() error
}

// Decode reads data, which must be exactly one JSON object of at most
// MaxMessageBytes, into m and then validates m. Unknown members are
// ignored (plugins must ignore unknown request members, PROC-5, and the
// host does the same for responses so that a plugin written for a newer
// minor version still works). Every failure is a *Error with code
// VALIDATION_ERROR; m may be partly filled after a failure.
//
// Decode is safe for concurrent use with distinct m.
func Decode(data []byte, m Message) error {
	if len(data) > MaxMessageBytes {
		return invalid("message is %d bytes, over the limit of %d", len(data), MaxMessageBytes)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return invalid("message is empty")
	}
	if trimmed[0] != '{' {
		return invalid("message is not a JSON object")
	}
	if err := json.Unmarshal(data, m); err != nil {
		return invalid("message is not valid JSON for %T: %v", m, err)
	}
	return m.Validate()
}
