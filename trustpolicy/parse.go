package trustpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxPolicyBytes bounds a trust policy document. A statement takes a few
// hundred bytes, so 1 MiB holds thousands of them, while a runaway or hostile
// input cannot exhaust memory.
const MaxPolicyBytes = 1 << 20

// SupportedVersion is the trust policy version of the specification (TP-1,
// BTP-1), and the only version of blob trust policies.
const SupportedVersion = "1.0"

// ExtensionVersion is the version of signet's extended OCI trust policy: the
// "1.0" document plus the members of docs/policy-extensions.md (prefix
// scopes, minSignatures, counterSignatures, tagBinding). Tools that only
// know "1.0" refuse it (TP-1), so a policy that needs an extension fails
// closed there instead of being read as weaker.
const ExtensionVersion = "signet/v1"

// decode reads at most MaxPolicyBytes from r and decodes one JSON value
// into v, leniently as encoding/json does (TP-13).
func decode(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxPolicyBytes+1))
	if err != nil {
		return fmt.Errorf("read trust policy: %w", err)
	}
	if len(data) > MaxPolicyBytes {
		return &PolicyError{Msg: fmt.Sprintf("document is larger than %d bytes", MaxPolicyBytes)}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &PolicyError{Msg: "malformed JSON" + position(data, err), Err: err}
	}
	return nil
}

// position renders the line and column of a JSON decoding error, if known.
func position(data []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return ""
	}
	if off < 0 || off > int64(len(data)) {
		return ""
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return fmt.Sprintf(" at line %d, column %d", line, col)
}

// marshal renders a document as indented JSON with a final newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// validateHeader checks TP-1 and TP-2. ext allows ExtensionVersion (OCI
// documents only).
func validateHeader(version string, n int, ext bool, errs *[]error) {
	switch version {
	case SupportedVersion:
	case ExtensionVersion:
		if !ext {
			*errs = append(*errs, &PolicyError{Field: "version", Msg: fmt.Sprintf("version %q is for OCI trust policies only; use %q", version, SupportedVersion)})
		}
	case "":
		*errs = append(*errs, &PolicyError{Field: "version", Msg: fmt.Sprintf("version is missing; use %q", SupportedVersion)})
	default:
		*errs = append(*errs, &PolicyError{Field: "version", Msg: fmt.Sprintf("version %q is not supported; use %q", version, SupportedVersion)})
	}
	if n == 0 {
		*errs = append(*errs, &PolicyError{Field: "trustPolicies", Msg: "there are no trust policy statements"})
	}
}

// validateNames checks that every usable name is unique (TP-3).
func validateNames(stmts []Statement, errs *[]error) {
	seen := make(map[string]bool, len(stmts))
	for i := range stmts {
		name := stmts[i].Name
		if seen[name] && name != "" {
			*errs = append(*errs, &PolicyError{Statement: name, Field: "name", Msg: "name is used by more than one statement"})
		}
		seen[name] = true
	}
}
