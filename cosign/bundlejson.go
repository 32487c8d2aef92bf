package cosign

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/signet-dev/signet/internal/strictjson"
)

// The sigstore bundle and the in-toto statement are protobuf messages
// (protobuf-specs v0.5, in-toto attestation v1) exchanged in their
// canonical JSON form. They are decoded here into this package's own
// types, with the rules of protobuf's JSON mapping (protojson) that
// sigstore-go applies: a member may be spelled with its JSON name or its
// field name, but only once; unknown members, and two members of one
// oneof, are errors; null is an unset field; bytes are base64 (standard
// or URL alphabet, padded or not); 64-bit integers are numbers or strings
// holding one; enums are names or numbers. Not linking protobuf's runtime
// and the generated types saves every signet process the registration of
// their descriptors at start-up (docs/benchmarks.md). Duplicate member
// names (which protojson also refuses) and nesting deeper than
// strictjson.MaxDepth are refused by strictjson.

// sigstoreBundle is a sigstore bundle (dev.sigstore.bundle.v1.Bundle).
type sigstoreBundle struct {
	MediaType            string
	VerificationMaterial *verificationMaterial
	// Content: one of MessageSignature and DsseEnvelope.
	MessageSignature *messageSignature
	DsseEnvelope     *dsseEnvelope
}

// verificationMaterial is dev.sigstore.bundle.v1.VerificationMaterial.
type verificationMaterial struct {
	// Content: at most one of PublicKey, X509CertificateChain and
	// Certificate.
	PublicKey            *publicKeyIdentifier
	X509CertificateChain *x509CertificateChain
	Certificate          *x509Certificate
	TlogEntries          []*tlogEntryProto
	// RFC3161Timestamps are the signed timestamps of the
	// timestampVerificationData member (decoded, not used).
	RFC3161Timestamps [][]byte
}

type publicKeyIdentifier struct{ Hint string }

type x509CertificateChain struct{ Certificates []*x509Certificate }

type x509Certificate struct{ RawBytes []byte }

// messageSignature is dev.sigstore.common.v1.MessageSignature.
type messageSignature struct {
	MessageDigest *hashOutput
	Signature     []byte
}

// hashOutput is dev.sigstore.common.v1.HashOutput.
type hashOutput struct {
	Algorithm int32 // hashAlgorithms
	Digest    []byte
}

// hashSHA256 is HashAlgorithm SHA2_256.
const hashSHA256 = 1

// hashAlgorithms are the names of dev.sigstore.common.v1.HashAlgorithm.
var hashAlgorithms = map[string]int32{
	"HASH_ALGORITHM_UNSPECIFIED": 0, "SHA2_256": 1, "SHA2_384": 2, "SHA2_512": 3, "SHA3_256": 4, "SHA3_384": 5,
}

// hashAlgorithmName is the name of a HashAlgorithm value (its number when
// it has none).
func hashAlgorithmName(n int32) string {
	for name, v := range hashAlgorithms {
		if v == n {
			return name
		}
	}
	return strconv.Itoa(int(n))
}

// dsseEnvelope is io.intoto.Envelope.
type dsseEnvelope struct {
	Payload     []byte
	PayloadType string
	Signatures  []*dsseSignature
}

type dsseSignature struct {
	Sig   []byte
	KeyID string
}

// tlogEntryProto is dev.sigstore.rekor.v1.TransparencyLogEntry.
type tlogEntryProto struct {
	LogIndex          int64
	LogID             *logID
	KindVersion       *kindVersion
	IntegratedTime    int64
	InclusionPromise  *inclusionPromise
	InclusionProof    *inclusionProof
	CanonicalizedBody []byte
}

type logID struct{ KeyID []byte }

type kindVersion struct{ Kind, Version string }

type inclusionPromise struct{ SignedEntryTimestamp []byte }

type inclusionProof struct {
	LogIndex   int64
	RootHash   []byte
	TreeSize   int64
	Hashes     [][]byte
	Checkpoint *checkpoint
}

type checkpoint struct{ Envelope string }

// inTotoStatement is an in-toto statement (in_toto_attestation.v1.Statement).
type inTotoStatement struct {
	Type          string
	Subject       []*resourceDescriptor
	PredicateType string
	Predicate     map[string]any
}

// resourceDescriptor is in_toto_attestation.v1.ResourceDescriptor.
type resourceDescriptor struct {
	Name, URI                   string
	Digest                      map[string]string
	Content                     []byte
	DownloadLocation, MediaType string
	Annotations                 map[string]any
}

// pjObject reads one JSON object as a protobuf message: fields are taken
// by name (JSON name or field name), and done reports any member left.
type pjObject struct {
	m    map[string]any
	path string
	seen map[string]bool
	err  error
}

// newObject reads v as a message at path; ok is false for null (unset).
func newObject(v any, path string) (o *pjObject, ok bool, err error) {
	if v == nil {
		return nil, false, nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return nil, false, fmt.Errorf("%s: want a JSON object", path)
	}
	return &pjObject{m: m, path: path, seen: map[string]bool{}}, true, nil
}

// field returns the member spelled jsonName or fieldName (nil when absent
// or null). Both spellings at once are a duplicate field.
func (o *pjObject) field(jsonName, fieldName string) any {
	v, ok := o.m[jsonName]
	o.seen[jsonName] = true
	if fieldName != jsonName {
		if v2, ok2 := o.m[fieldName]; ok2 {
			o.seen[fieldName] = true
			if ok {
				o.fail(fmt.Errorf("%s: duplicate field %s", o.path, fieldName))
			}
			v = v2
		}
	}
	return v
}

func (o *pjObject) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

func (o *pjObject) at(name string) string { return o.path + "." + name }

// done is the first error met, or an unknown member.
func (o *pjObject) done() error {
	if o.err != nil {
		return o.err
	}
	var unknown []string
	for k := range o.m {
		if !o.seen[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s: unknown field %q", o.path, unknown[0])
	}
	return nil
}

func (o *pjObject) str(jsonName, fieldName string) string {
	switch v := o.field(jsonName, fieldName).(type) {
	case nil:
		return ""
	case string:
		return v
	}
	o.fail(fmt.Errorf("%s: want a string", o.at(jsonName)))
	return ""
}

func (o *pjObject) bytes(jsonName, fieldName string) []byte {
	v := o.field(jsonName, fieldName)
	if v == nil {
		return nil
	}
	b, err := pjBytes(v)
	if err != nil {
		o.fail(fmt.Errorf("%s: %w", o.at(jsonName), err))
	}
	return b
}

// pjBytes decodes a bytes value as protojson does.
func pjBytes(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("want a base64 string")
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	if len(b) == 0 {
		return nil, nil // protojson leaves an empty bytes field unset
	}
	return b, nil
}

func (o *pjObject) int64(jsonName, fieldName string) int64 {
	v := o.field(jsonName, fieldName)
	if v == nil {
		return 0
	}
	n, err := pjInt(v, 64)
	if err != nil {
		o.fail(fmt.Errorf("%s: %w", o.at(jsonName), err))
	}
	return n
}

// pjInt decodes an integer as protojson does: a JSON number or a string
// holding exactly one, integral and within bitSize bits.
func pjInt(v any, bitSize int) (int64, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		if !validJSONNumber(v) {
			return 0, errors.New("want an integer")
		}
		s = v
	default:
		return 0, errors.New("want an integer")
	}
	if n, err := strconv.ParseInt(s, 10, bitSize); err == nil {
		return n, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, errors.New("want an integer")
	}
	n := r.Num().Int64()
	if bitSize == 32 && int64(int32(n)) != n {
		return 0, errors.New("want a 32-bit integer")
	}
	return n, nil
}

// validJSONNumber reports whether s is a JSON number (RFC 8259 section 6).
func validJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func (o *pjObject) enum(jsonName, fieldName string, names map[string]int32) int32 {
	switch v := o.field(jsonName, fieldName).(type) {
	case nil:
		return 0
	case string:
		if n, ok := names[v]; ok {
			return n
		}
	case json.Number:
		if n, err := pjInt(v, 32); err == nil {
			return int32(n)
		}
	}
	o.fail(fmt.Errorf("%s: invalid enum value", o.at(jsonName)))
	return 0
}

// list is a repeated field's elements (none when absent or null).
func (o *pjObject) list(jsonName, fieldName string) []any {
	switch v := o.field(jsonName, fieldName).(type) {
	case nil:
		return nil
	case []any:
		for _, e := range v {
			if e == nil {
				o.fail(fmt.Errorf("%s: null element", o.at(jsonName)))
			}
		}
		return v
	}
	o.fail(fmt.Errorf("%s: want an array", o.at(jsonName)))
	return nil
}

// message reads a message field with read (nil when absent or null).
func message[T any](o *pjObject, jsonName, fieldName string, read func(*pjObject) (*T, error)) *T {
	v := o.field(jsonName, fieldName)
	sub, ok, err := newObject(v, o.at(jsonName))
	if err != nil {
		o.fail(err)
	}
	if !ok {
		return nil
	}
	t, err := read(sub)
	if err != nil {
		o.fail(err)
		return nil
	}
	return t
}

// messages reads a repeated message field with read.
func messages[T any](o *pjObject, jsonName, fieldName string, read func(*pjObject) (*T, error)) []*T {
	var out []*T
	for i, e := range o.list(jsonName, fieldName) {
		sub, ok, err := newObject(e, fmt.Sprintf("%s[%d]", o.at(jsonName), i))
		if err != nil {
			o.fail(err)
			return nil
		}
		if !ok {
			continue
		}
		t, err := read(sub)
		if err != nil {
			o.fail(err)
			return nil
		}
		out = append(out, t)
	}
	return out
}

// oneof checks that at most one of a oneof's members is set.
func (o *pjObject) oneof(name string, set ...bool) {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	if n > 1 {
		o.fail(fmt.Errorf("%s: oneof %s is already set", o.path, name))
	}
}

// decodeProtoJSON decodes data with strictjson after the checks protojson
// makes on the text that encoding/json does not: valid UTF-8, and no
// unpaired UTF-16 surrogate in a \u escape (encoding/json would replace
// either with U+FFFD).
func decodeProtoJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	if err := checkSurrogates(data); err != nil {
		return nil, err
	}
	return strictjson.Decode(data)
}

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not
// half of a pair.
func checkSurrogates(data []byte) error {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			r, ok := hex4(i)
			if !ok {
				i++ // a one-character escape
				continue
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if low, ok := hex4(i + 6); !ok || low < 0xDC00 || low > 0xDFFF {
					return errors.New("invalid escape: unpaired UTF-16 surrogate")
				}
				i += 11
			case r >= 0xDC00 && r <= 0xDFFF:
				return errors.New("invalid escape: unpaired UTF-16 surrogate")
			default:
				i += 5
			}
		}
	}
	return nil
}

// parseBundleJSON decodes a sigstore bundle.
func parseBundleJSON(data []byte) (*sigstoreBundle, error) {
	v, err := decodeProtoJSON(data)
	if err != nil {
		return nil, err
	}
	o, ok, err := newObject(v, "bundle")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("bundle: want a JSON object")
	}
	return readBundle(o)
}

func readBundle(o *pjObject) (*sigstoreBundle, error) {
	b := &sigstoreBundle{
		MediaType:            o.str("mediaType", "media_type"),
		VerificationMaterial: message(o, "verificationMaterial", "verification_material", readVerificationMaterial),
		MessageSignature:     message(o, "messageSignature", "message_signature", readMessageSignature),
		DsseEnvelope:         message(o, "dsseEnvelope", "dsse_envelope", readEnvelope),
	}
	o.oneof("content", b.MessageSignature != nil, b.DsseEnvelope != nil)
	return b, o.done()
}

func readVerificationMaterial(o *pjObject) (*verificationMaterial, error) {
	vm := &verificationMaterial{
		PublicKey: message(o, "publicKey", "public_key", func(o *pjObject) (*publicKeyIdentifier, error) {
			return &publicKeyIdentifier{Hint: o.str("hint", "hint")}, o.done()
		}),
		X509CertificateChain: message(o, "x509CertificateChain", "x509_certificate_chain", func(o *pjObject) (*x509CertificateChain, error) {
			return &x509CertificateChain{Certificates: messages(o, "certificates", "certificates", readCertificate)}, o.done()
		}),
		Certificate: message(o, "certificate", "certificate", readCertificate),
		TlogEntries: messages(o, "tlogEntries", "tlog_entries", readTlogEntry),
	}
	o.oneof("content", vm.PublicKey != nil, vm.X509CertificateChain != nil, vm.Certificate != nil)
	message(o, "timestampVerificationData", "timestamp_verification_data", func(o *pjObject) (*struct{}, error) {
		for _, ts := range messages(o, "rfc3161Timestamps", "rfc3161_timestamps", func(o *pjObject) (*[]byte, error) {
			b := o.bytes("signedTimestamp", "signed_timestamp")
			return &b, o.done()
		}) {
			vm.RFC3161Timestamps = append(vm.RFC3161Timestamps, *ts)
		}
		return &struct{}{}, o.done()
	})
	return vm, o.done()
}

func readCertificate(o *pjObject) (*x509Certificate, error) {
	return &x509Certificate{RawBytes: o.bytes("rawBytes", "raw_bytes")}, o.done()
}

func readMessageSignature(o *pjObject) (*messageSignature, error) {
	return &messageSignature{
		MessageDigest: message(o, "messageDigest", "message_digest", func(o *pjObject) (*hashOutput, error) {
			return &hashOutput{Algorithm: o.enum("algorithm", "algorithm", hashAlgorithms), Digest: o.bytes("digest", "digest")}, o.done()
		}),
		Signature: o.bytes("signature", "signature"),
	}, o.done()
}

func readEnvelope(o *pjObject) (*dsseEnvelope, error) {
	return &dsseEnvelope{
		Payload:     o.bytes("payload", "payload"),
		PayloadType: o.str("payloadType", "payloadType"),
		Signatures: messages(o, "signatures", "signatures", func(o *pjObject) (*dsseSignature, error) {
			return &dsseSignature{Sig: o.bytes("sig", "sig"), KeyID: o.str("keyid", "keyid")}, o.done()
		}),
	}, o.done()
}

func readTlogEntry(o *pjObject) (*tlogEntryProto, error) {
	return &tlogEntryProto{
		LogIndex: o.int64("logIndex", "log_index"),
		LogID: message(o, "logId", "log_id", func(o *pjObject) (*logID, error) {
			return &logID{KeyID: o.bytes("keyId", "key_id")}, o.done()
		}),
		KindVersion: message(o, "kindVersion", "kind_version", func(o *pjObject) (*kindVersion, error) {
			return &kindVersion{Kind: o.str("kind", "kind"), Version: o.str("version", "version")}, o.done()
		}),
		IntegratedTime: o.int64("integratedTime", "integrated_time"),
		InclusionPromise: message(o, "inclusionPromise", "inclusion_promise", func(o *pjObject) (*inclusionPromise, error) {
			return &inclusionPromise{SignedEntryTimestamp: o.bytes("signedEntryTimestamp", "signed_entry_timestamp")}, o.done()
		}),
		InclusionProof:    message(o, "inclusionProof", "inclusion_proof", readInclusionProof),
		CanonicalizedBody: o.bytes("canonicalizedBody", "canonicalized_body"),
	}, o.done()
}

func readInclusionProof(o *pjObject) (*inclusionProof, error) {
	p := &inclusionProof{
		LogIndex: o.int64("logIndex", "log_index"),
		RootHash: o.bytes("rootHash", "root_hash"),
		TreeSize: o.int64("treeSize", "tree_size"),
		Checkpoint: message(o, "checkpoint", "checkpoint", func(o *pjObject) (*checkpoint, error) {
			return &checkpoint{Envelope: o.str("envelope", "envelope")}, o.done()
		}),
	}
	for i, h := range o.list("hashes", "hashes") {
		b, err := pjBytes(h)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", o.at("hashes"), i, err)
		}
		p.Hashes = append(p.Hashes, b)
	}
	return p, o.done()
}

// parseStatement decodes an in-toto statement.
func parseStatement(data []byte) (*inTotoStatement, error) {
	v, err := decodeProtoJSON(data)
	if err != nil {
		return nil, err
	}
	o, ok, err := newObject(v, "statement")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("statement: want a JSON object")
	}
	st := &inTotoStatement{
		Type:          o.str("_type", "type"),
		Subject:       messages(o, "subject", "subject", readResourceDescriptor),
		PredicateType: o.str("predicateType", "predicate_type"),
		Predicate:     o.object("predicate", "predicate"),
	}
	return st, o.done()
}

func readResourceDescriptor(o *pjObject) (*resourceDescriptor, error) {
	rd := &resourceDescriptor{
		Name:             o.str("name", "name"),
		URI:              o.str("uri", "uri"),
		Content:          o.bytes("content", "content"),
		DownloadLocation: o.str("downloadLocation", "download_location"),
		MediaType:        o.str("mediaType", "media_type"),
		Annotations:      o.object("annotations", "annotations"),
	}
	switch v := o.field("digest", "digest").(type) {
	case nil:
	case map[string]any:
		rd.Digest = map[string]string{}
		for k, h := range v {
			s, ok := h.(string)
			if !ok {
				return nil, fmt.Errorf("%s: want string values", o.at("digest"))
			}
			rd.Digest[k] = s
		}
	default:
		return nil, fmt.Errorf("%s: want a JSON object", o.at("digest"))
	}
	return rd, o.done()
}

// object is a google.protobuf.Struct field: any JSON object.
func (o *pjObject) object(jsonName, fieldName string) map[string]any {
	switch v := o.field(jsonName, fieldName).(type) {
	case nil:
		return nil
	case map[string]any:
		return v
	}
	o.fail(fmt.Errorf("%s: want a JSON object", o.at(jsonName)))
	return nil
}
