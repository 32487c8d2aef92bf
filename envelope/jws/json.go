package jws

import (
	"bytes"
	"encoding/json"

	"github.com/signet-dev/signet/internal/strictjson"
)

// decodeJSON and decodeObject decode strictly (internal/strictjson): no
// duplicate member names, bounded nesting, no trailing data.
var (
	decodeJSON   = strictjson.Decode
	decodeObject = strictjson.DecodeObject
)

// marshalJSON encodes v compactly with object members sorted by name and
// without HTML escaping, so equal values always give equal bytes.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
