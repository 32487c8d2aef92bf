package signature

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SigningScheme is the value of the io.cncf.notary.signingScheme attribute.
type SigningScheme string

// The signing schemes of the specification.
const (
	SchemeX509                 SigningScheme = "notary.x509"
	SchemeX509SigningAuthority SigningScheme = "notary.x509.signingAuthority"
)

// Attribute names (digest §0.3).
const (
	HeaderSigningScheme                = "io.cncf.notary.signingScheme"
	HeaderSigningTime                  = "io.cncf.notary.signingTime"
	HeaderAuthenticSigningTime         = "io.cncf.notary.authenticSigningTime"
	HeaderExpiry                       = "io.cncf.notary.expiry"
	HeaderVerificationPlugin           = "io.cncf.notary.verificationPlugin"
	HeaderVerificationPluginMinVersion = "io.cncf.notary.verificationPluginMinVersion"
	HeaderTimestampSignature           = "io.cncf.notary.timestampSignature"
	HeaderSigningAgent                 = "io.cncf.notary.signingAgent"
)

// Attribute is an extended signed attribute: any protected header other
// than the ones the specification names. Value is a JSON/CBOR primitive.
type Attribute struct {
	Key      string
	Critical bool
	Value    any
}

// SignedAttributes are the protected attributes of an envelope (§1.2).
type SignedAttributes struct {
	SigningScheme SigningScheme
	// SigningTime is io.cncf.notary.signingTime for notary.x509 and
	// io.cncf.notary.authenticSigningTime for notary.x509.signingAuthority.
	SigningTime time.Time
	// Expiry is zero when the signature does not expire.
	Expiry time.Time
	// ExtendedAttributes holds every other protected header, including the
	// verification plugin attributes, in no particular order.
	ExtendedAttributes []Attribute
}

// UnsignedAttributes are the unprotected attributes of an envelope (§1.3),
// apart from the certificate chain which Content holds.
type UnsignedAttributes struct {
	// TimestampSignature is the DER RFC 3161 TimeStampToken, if any.
	TimestampSignature []byte
	SigningAgent       string
}

// Content is an envelope decoded and cryptographically verified.
type Content struct {
	// Payload is the raw payload bytes as signed.
	Payload            []byte
	PayloadContentType string
	Signed             SignedAttributes
	Unsigned           UnsignedAttributes
	// Algorithm is the algorithm named by the envelope; after envelope
	// verification it equals the algorithm bound to the leaf key.
	Algorithm Algorithm
	// CertificateChain is leaf first, root last.
	CertificateChain []*x509.Certificate
	// Signature is the primitive signature (RSASSA-PSS bytes or ECDSA r||s):
	// what an RFC 3161 timestamp countersigns.
	Signature []byte
}

// Signer is the signing primitive behind every envelope: a local key, an
// HSM or a plugin. Implementations must be safe for one call at a time.
type Signer interface {
	// Sign signs message (the unhashed signing input of the envelope) with
	// the algorithm bound to KeySpec and returns the primitive signature:
	// RSASSA-PSS with salt length = hash length, or ECDSA as fixed-width r||s.
	Sign(ctx context.Context, message []byte) ([]byte, error)
	// KeySpec returns the key spec of the signing key.
	KeySpec(ctx context.Context) (KeySpec, error)
	// CertificateChain returns the chain, leaf first, ending in the root.
	CertificateChain(ctx context.Context) ([]*x509.Certificate, error)
}

// SignRequest is everything an envelope codec needs to produce an envelope.
type SignRequest struct {
	Payload            []byte
	PayloadContentType string // MediaTypePayloadV1 when empty
	Signer             Signer
	// SigningTime is truncated to seconds by the caller (ATTR-6).
	SigningTime time.Time
	// Expiry is zero for no expiry; otherwise after SigningTime.
	Expiry        time.Time
	SigningScheme SigningScheme // SchemeX509 when empty
	// ExtendedSignedAttributes are emitted as extra protected headers.
	ExtendedSignedAttributes []Attribute
	SigningAgent             string
}

// SignedHeader is one Notary header of an envelope's protected bucket, in
// the order SignedHeaders returns them. A time header (IsTime) carries Time,
// which each format encodes its own way (JWS-9, COSE-2); any other carries
// Value as it is.
type SignedHeader struct {
	Key      string
	IsTime   bool
	Time     time.Time
	Value    any
	Critical bool
}

// IsNotaryHeader reports whether k is one of the Notary signed headers a
// signer sets itself (ATTR-1, ATTR-5, ATTR-7): the signing scheme, the two
// signing times and the expiry.
func IsNotaryHeader(k string) bool {
	switch k {
	case HeaderSigningScheme, HeaderSigningTime, HeaderAuthenticSigningTime, HeaderExpiry:
		return true
	}
	return false
}

// SignedHeaders returns the scheme and the Notary headers r asks an envelope
// to sign, with their crit marks (ATTR-1..ATTR-8): the signing scheme
// (SchemeX509 when empty; critical), signingTime (notary.x509) or
// authenticSigningTime (notary.x509.signingAuthority; critical), the expiry
// when set (critical), then each extended signed attribute. An attribute
// whose name is empty, a Notary header, an unsigned Notary header
// (timestamp signature, signing agent), reserved by the format (reserved,
// may be nil) or given twice is refused.
func (r *SignRequest) SignedHeaders(reserved func(string) bool) (SigningScheme, []SignedHeader, error) {
	scheme := r.SigningScheme
	if scheme == "" {
		scheme = SchemeX509
	}
	h := []SignedHeader{{Key: HeaderSigningScheme, Value: string(scheme), Critical: true}}
	switch scheme {
	case SchemeX509:
		h = append(h, SignedHeader{Key: HeaderSigningTime, IsTime: true, Time: r.SigningTime})
	case SchemeX509SigningAuthority:
		h = append(h, SignedHeader{Key: HeaderAuthenticSigningTime, IsTime: true, Time: r.SigningTime, Critical: true})
	default:
		return "", nil, fmt.Errorf("unsupported signing scheme %q", scheme)
	}
	if !r.Expiry.IsZero() {
		h = append(h, SignedHeader{Key: HeaderExpiry, IsTime: true, Time: r.Expiry, Critical: true})
	}
	seen := make(map[string]bool, len(r.ExtendedSignedAttributes))
	for _, a := range r.ExtendedSignedAttributes {
		if a.Key == "" || IsNotaryHeader(a.Key) || a.Key == HeaderTimestampSignature || a.Key == HeaderSigningAgent ||
			(reserved != nil && reserved(a.Key)) {
			return "", nil, fmt.Errorf("extended attribute name %q is reserved", a.Key)
		}
		if seen[a.Key] {
			return "", nil, fmt.Errorf("extended attribute %q is already a header", a.Key)
		}
		seen[a.Key] = true
		h = append(h, SignedHeader{Key: a.Key, Value: a.Value, Critical: a.Critical})
	}
	return scheme, h, nil
}

// ApplyTimes sets SigningTime and Expiry from the time headers an envelope
// carries, by the rules of ATTR-5: notary.x509 needs
// io.cncf.notary.signingTime and forbids io.cncf.notary.authenticSigningTime,
// notary.x509.signingAuthority the reverse. SigningScheme must be set first;
// an unknown scheme is an ATTR-1 error. Errors are *EnvelopeError; prefix
// names the format in their message (e.g. "jws: ").
func (s *SignedAttributes) ApplyTimes(times map[string]time.Time, prefix string) error {
	want, forbidden := HeaderSigningTime, HeaderAuthenticSigningTime
	switch s.SigningScheme {
	case SchemeX509:
	case SchemeX509SigningAuthority:
		want, forbidden = forbidden, want
	default:
		return &EnvelopeError{Rule: "ATTR-1", Msg: prefix + "unsupported signing scheme " + quote(string(s.SigningScheme))}
	}
	if _, ok := times[forbidden]; ok {
		return &EnvelopeError{Rule: "ATTR-5", Msg: prefix + "header " + quote(forbidden) + " must not be present for signing scheme " + string(s.SigningScheme)}
	}
	t, ok := times[want]
	if !ok {
		return &EnvelopeError{Rule: "ATTR-5", Msg: prefix + "header " + quote(want) + " is required for signing scheme " + string(s.SigningScheme)}
	}
	s.SigningTime = t
	s.Expiry = times[HeaderExpiry]
	return nil
}

func quote(s string) string { return strconv.Quote(s) }

// SignerAlgorithm asks s for its key spec and returns the algorithm the
// key implies (ALG-2). Envelope encoders call it before building their
// signed headers; they ask for the chain (SignerChain) only after signing,
// because a plugin learns its chain from its first signature and the chain
// sits in the unsigned header.
func SignerAlgorithm(ctx context.Context, s Signer) (Algorithm, error) {
	if s == nil {
		return 0, errors.New("sign request has no signer")
	}
	ks, err := s.KeySpec(ctx)
	if err != nil {
		return 0, fmt.Errorf("key spec: %w", err)
	}
	alg := ks.Algorithm()
	if alg == 0 {
		return 0, fmt.Errorf("%w: key spec %s", ErrUnsupportedKey, ks)
	}
	return alg, nil
}

// SignerChain asks s for its certificate chain: non-empty, no nil entry.
func SignerChain(ctx context.Context, s Signer) ([]*x509.Certificate, error) {
	chain, err := s.CertificateChain(ctx)
	if err != nil {
		return nil, fmt.Errorf("certificate chain: %w", err)
	}
	if len(chain) == 0 {
		return nil, errors.New("signer returned an empty certificate chain")
	}
	for _, c := range chain {
		if c == nil {
			return nil, errors.New("certificate chain holds a nil certificate")
		}
	}
	return chain, nil
}

// MissingCritical returns the headers that must be marked critical (JWS-4,
// COSE-2: the signing scheme, the authentic signing time under
// notary.x509.signingAuthority, the expiry when present) but are not in
// crit.
func MissingCritical(scheme SigningScheme, hasExpiry bool, crit map[string]bool) []string {
	must := []string{HeaderSigningScheme}
	if scheme == SchemeX509SigningAuthority {
		must = append(must, HeaderAuthenticSigningTime)
	}
	if hasExpiry {
		must = append(must, HeaderExpiry)
	}
	var missing []string
	for _, m := range must {
		if !crit[m] {
			missing = append(missing, m)
		}
	}
	return missing
}
