package signature

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
)

// MaxChainLength bounds the certificates of a chain we validate. Real
// chains hold two to four; the specification sets no limit, so this only
// stops a hostile envelope from making us verify thousands of signatures.
const MaxChainLength = 16

// Extension OIDs evaluated by the chain rules (digest §0.4). Every other
// extension is ignored (CERT-9).
var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// ChainError reports a certificate chain that breaks a rule of §3.2 or §3.3.
// It wraps ErrInvalidChain.
type ChainError struct {
	// Rule is the requirement ID broken, e.g. "CERT-5".
	Rule string
	// Index is the position of the offending certificate (0 = leaf), or -1
	// when the rule concerns the chain as a whole.
	Index int
	// Subject is the offending certificate's subject, empty when Index < 0.
	Subject string
	// Msg says what is wrong, lowercase, no trailing period.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

var _ error = (*ChainError)(nil)

func (e *ChainError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidChain.Error())
	b.WriteString(": ")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "certificate %d (subject %q): ", e.Index, e.Subject)
	}
	b.WriteString(e.Msg)
	if e.Rule != "" {
		b.WriteString(" (" + e.Rule + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalidChain and the cause, if any.
func (e *ChainError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidChain}
	}
	return []error{ErrInvalidChain, e.Err}
}

// chainProfile selects the leaf rules: code signing (§3.2) or
// timestamping (§3.3).
type chainProfile int

const (
	profileCodeSigning chainProfile = iota
	profileTimestamping
)

// ValidateCodeSigningChain checks a code-signing chain (leaf first, root
// last) against the rules of §3.2, independent of any trust store:
//
//   - CERT-1/CERT-3: each certificate is issued by the next (issuer bytes
//     equal the next subject and the signature verifies with its key), no
//     certificate but the last is self-signed, the last is a self-signed
//     root;
//   - CERT-2: a single certificate must be self-signed and is then held to
//     the leaf rules;
//   - CERT-4: CA certificates carry a critical basicConstraints with cA=true,
//     a large enough pathLenConstraint when present, and a critical keyUsage
//     with keyCertSign;
//   - CERT-5/CERT-6: the leaf carries a critical keyUsage with
//     digitalSignature and no other forbidden bit, basicConstraints cA=false
//     if present, and no forbidden extended key usage;
//   - CERT-7/ALG-3: the leaf key is one of the six key specs;
//   - CERT-8: no certificate is signed with MD2, MD5 or SHA-1;
//   - CERT-9: other extensions, critical or not, are ignored;
//   - CERT-10: when at is non-zero every certificate is valid at at
//     (notBefore ≤ at ≤ notAfter). A zero at skips the time check, as at
//     verification time where validity depends on the timestamp (CERT-11).
//
// Errors are *ChainError values wrapping ErrInvalidChain.
func ValidateCodeSigningChain(certs []*x509.Certificate, at time.Time) error {
	return validateChain(certs, at, profileCodeSigning)
}

// ValidateTimestampingChain checks a TSA chain (leaf first, root last)
// against §3.3: the structural rules of CERT-1..3 and CERT-8 (TSACERT-1),
// the CA rules with keyUsage criticality not enforced (TSACERT-2), and the
// leaf rules of TSACERT-3: keyUsage present with digitalSignature only,
// basicConstraints cA=false if present, an extendedKeyUsage extension that
// is present, critical and holds exactly id-kp-timeStamping, and a key per
// ALG-3. A non-zero at (typically the token's genTime) must fall inside
// every certificate's validity.
func ValidateTimestampingChain(certs []*x509.Certificate, at time.Time) error {
	return validateChain(certs, at, profileTimestamping)
}

func validateChain(certs []*x509.Certificate, at time.Time, p chainProfile) error {
	structural := "CERT-1"
	if p == profileTimestamping {
		structural = "TSACERT-1"
	}
	switch {
	case len(certs) == 0:
		return &ChainError{Rule: structural, Index: -1, Msg: "chain is empty"}
	case len(certs) > MaxChainLength:
		return &ChainError{Rule: structural, Index: -1, Msg: fmt.Sprintf("chain has %d certificates, over the limit of %d", len(certs), MaxChainLength)}
	}
	for i, c := range certs {
		if c == nil {
			return &ChainError{Rule: structural, Index: i, Msg: "certificate is missing"}
		}
	}
	// Signature algorithms first: a SHA-1 link must be reported as such,
	// not as a signature that fails to verify.
	for i, c := range certs {
		if weakSignatureAlgorithm(c.SignatureAlgorithm) {
			return chainErr("CERT-8", i, c, fmt.Sprintf("certificate is signed with %s; MD2, MD5 and SHA-1 are not allowed", c.SignatureAlgorithm), nil)
		}
	}
	if err := checkStructure(certs, p); err != nil {
		return err
	}
	if err := checkLeaf(certs[0], p); err != nil {
		return err
	}
	for i := 1; i < len(certs); i++ {
		if err := checkCA(certs[i], i, p); err != nil {
			return err
		}
	}
	if !at.IsZero() {
		rule := "CERT-10"
		if p == profileTimestamping {
			rule = "TSACERT-1"
		}
		for i, c := range certs {
			if at.Before(c.NotBefore) || at.After(c.NotAfter) {
				return chainErr(rule, i, c, fmt.Sprintf("certificate is not valid at %s; it is valid from %s to %s",
					at.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339)), nil)
			}
		}
	}
	return nil
}

// checkStructure enforces CERT-1..3 (TSACERT-1).
func checkStructure(certs []*x509.Certificate, p chainProfile) error {
	order, root := "CERT-1", "CERT-2"
	if p == profileTimestamping {
		order, root = "TSACERT-1", "TSACERT-1"
	}
	last := len(certs) - 1
	for i, c := range certs {
		if i == last {
			what := "last certificate is not a self-signed root"
			if last == 0 {
				what = "a single-certificate chain must be self-signed"
			}
			if !bytes.Equal(c.RawIssuer, c.RawSubject) {
				return chainErr(root, i, c, what+": its issuer differs from its subject", nil)
			}
			if err := CheckCertificateSignature(c, c); err != nil {
				return chainErr(root, i, c, what+": its signature does not verify with its own key", err)
			}
			continue
		}
		if isSelfSigned(c) {
			what := "intermediate"
			if i == 0 {
				what = "leaf"
			}
			return chainErr("CERT-3", i, c, fmt.Sprintf("%s certificate is self-signed; only the last certificate may be", what), nil)
		}
		parent := certs[i+1]
		if !bytes.Equal(c.RawIssuer, parent.RawSubject) {
			return chainErr(order, i, c, fmt.Sprintf("certificate is not issued by the next certificate (subject %q): issuer and subject differ", parent.Subject.String()), nil)
		}
		if err := CheckCertificateSignature(parent, c); err != nil {
			return chainErr(order, i, c, fmt.Sprintf("certificate signature does not verify with the key of the next certificate (subject %q)", parent.Subject.String()), err)
		}
	}
	return nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		CheckCertificateSignature(c, c) == nil
}

// leafForbiddenKeyUsage are the keyUsage bits a signing leaf must not carry
// (CERT-5, TSACERT-3).
var leafForbiddenKeyUsage = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

// codeSigningForbiddenEKU are the extended key usages a code-signing leaf
// must not carry: the spec's five plus the reference's OCSPSigning (CERT-6).
var codeSigningForbiddenEKU = []struct {
	eku  x509.ExtKeyUsage
	name string
}{
	{x509.ExtKeyUsageAny, "anyExtendedKeyUsage"},
	{x509.ExtKeyUsageServerAuth, "serverAuth"},
	{x509.ExtKeyUsageClientAuth, "clientAuth"},
	{x509.ExtKeyUsageEmailProtection, "emailProtection"},
	{x509.ExtKeyUsageTimeStamping, "timeStamping"},
	{x509.ExtKeyUsageOCSPSigning, "OCSPSigning"},
}

func checkLeaf(c *x509.Certificate, p chainProfile) error {
	bcRule, kuRule, keyRule := "CERT-5", "CERT-5", "CERT-7"
	if p == profileTimestamping {
		bcRule, kuRule, keyRule = "TSACERT-3", "TSACERT-3", "TSACERT-3"
	}
	if c.BasicConstraintsValid && c.IsCA {
		return chainErr(bcRule, 0, c, "leaf certificate has basicConstraints cA=true", nil)
	}
	kuPresent, kuCritical := findExtension(c, oidKeyUsage)
	switch {
	case !kuPresent:
		return chainErr(kuRule, 0, c, "leaf certificate has no keyUsage extension", nil)
	case !kuCritical && p == profileCodeSigning:
		return chainErr(kuRule, 0, c, "leaf certificate keyUsage extension is not critical", nil)
	case c.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return chainErr(kuRule, 0, c, "leaf certificate keyUsage lacks digitalSignature", nil)
	}
	var bad []string
	for _, f := range leafForbiddenKeyUsage {
		if c.KeyUsage&f.bit != 0 {
			bad = append(bad, f.name)
		}
	}
	if len(bad) > 0 {
		return chainErr(kuRule, 0, c, "leaf certificate keyUsage must be digitalSignature only, but also has "+strings.Join(bad, ", "), nil)
	}
	switch p {
	case profileCodeSigning:
		for _, e := range c.ExtKeyUsage {
			for _, f := range codeSigningForbiddenEKU {
				if e == f.eku {
					return chainErr("CERT-6", 0, c, "leaf certificate extendedKeyUsage contains "+f.name, nil)
				}
			}
		}
	case profileTimestamping:
		ekuPresent, ekuCritical := findExtension(c, oidExtKeyUsage)
		switch {
		case !ekuPresent:
			return chainErr("TSACERT-3", 0, c, "timestamping certificate has no extendedKeyUsage extension", nil)
		case !ekuCritical:
			return chainErr("TSACERT-3", 0, c, "timestamping certificate extendedKeyUsage extension is not critical", nil)
		case len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0:
			return chainErr("TSACERT-3", 0, c, "timestamping certificate extendedKeyUsage must hold exactly id-kp-timeStamping", nil)
		}
	}
	if _, err := KeySpecFromCertificate(c); err != nil {
		return chainErr(keyRule, 0, c, "leaf certificate key is not allowed", err)
	}
	return nil
}

// checkCA enforces CERT-4 (TSACERT-2) on the certificate at index i ≥ 1.
func checkCA(c *x509.Certificate, i int, p chainProfile) error {
	rule := "CERT-4"
	if p == profileTimestamping {
		rule = "TSACERT-2"
	}
	bcPresent, bcCritical := findExtension(c, oidBasicConstraints)
	switch {
	case !bcPresent || !c.BasicConstraintsValid:
		return chainErr(rule, i, c, "CA certificate has no basicConstraints extension", nil)
	case !bcCritical:
		return chainErr(rule, i, c, "CA certificate basicConstraints extension is not critical", nil)
	case !c.IsCA:
		return chainErr(rule, i, c, "CA certificate has basicConstraints cA=false", nil)
	}
	// pathLenConstraint counts the CA certificates that may follow below
	// this one, excluding the leaf: certs[i] has i-1 of them.
	pathLenPresent := c.MaxPathLen > 0 || (c.MaxPathLen == 0 && c.MaxPathLenZero)
	if pathLenPresent && c.MaxPathLen < i-1 {
		return chainErr(rule, i, c, fmt.Sprintf("CA certificate pathLenConstraint is %d but %d CA certificates follow it", c.MaxPathLen, i-1), nil)
	}
	kuPresent, kuCritical := findExtension(c, oidKeyUsage)
	switch {
	case !kuPresent:
		return chainErr(rule, i, c, "CA certificate has no keyUsage extension", nil)
	case !kuCritical && p == profileCodeSigning:
		return chainErr(rule, i, c, "CA certificate keyUsage extension is not critical", nil)
	case c.KeyUsage&x509.KeyUsageCertSign == 0:
		return chainErr(rule, i, c, "CA certificate keyUsage lacks keyCertSign", nil)
	}
	return nil
}

// findExtension reports whether c carries the extension id and whether it
// is marked critical.
func findExtension(c *x509.Certificate, id asn1.ObjectIdentifier) (present, critical bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return true, e.Critical
		}
	}
	return false, false
}

// weakSignatureAlgorithm reports the algorithms CERT-8 forbids.
func weakSignatureAlgorithm(a x509.SignatureAlgorithm) bool {
	switch a {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}

func chainErr(rule string, i int, c *x509.Certificate, msg string, err error) *ChainError {
	return &ChainError{Rule: rule, Index: i, Subject: c.Subject.String(), Msg: msg, Err: err}
}
