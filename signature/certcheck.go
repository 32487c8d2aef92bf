package signature

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
)

// maxCheckedSignatures bounds the memo of certificate signatures that
// verified: a key is 32 bytes, so the memo holds at most about 200 KiB
// however many distinct chains a long-running process (the admission
// webhook) meets. When full it is emptied and starts over.
const maxCheckedSignatures = 4096

// checkedSignatures memoizes the certificate signature checks that
// succeeded, keyed by the SHA-256 of the signer's public key and of the
// whole signed certificate (its to-be-signed part, algorithm and
// signature), so a hit means the very same check passed before. One
// verification checks a chain when the envelope is opened and again when
// revocation re-checks it, and the trust store checks that a root is
// self-signed; a verify of many artifacts meets the same signer's chain
// in each of them. Each RSA-3072 check costs about half a million CPU
// instructions (docs/benchmarks.md).
var checkedSignatures = struct {
	sync.Mutex
	m map[[sha256.Size]byte]struct{}
}{m: map[[sha256.Size]byte]struct{}{}}

// CheckCertificateSignature verifies that c's signature was made with
// issuer's key (x509.Certificate.CheckSignature with c's signature
// algorithm), and nothing else about issuer: unlike
// x509.Certificate.CheckSignatureFrom it does not require issuer to be a
// CA, which the chain rules check separately. Results that verified are
// remembered for the life of the process. Safe for concurrent use.
func CheckCertificateSignature(issuer, c *x509.Certificate) error {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(issuer.RawSubjectPublicKeyInfo)))
	h.Write(n[:])
	h.Write(issuer.RawSubjectPublicKeyInfo)
	h.Write(c.Raw)
	var key [sha256.Size]byte
	h.Sum(key[:0])

	checkedSignatures.Lock()
	_, ok := checkedSignatures.m[key]
	checkedSignatures.Unlock()
	if ok {
		return nil
	}
	if err := issuer.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return err
	}
	checkedSignatures.Lock()
	if len(checkedSignatures.m) >= maxCheckedSignatures {
		clear(checkedSignatures.m)
	}
	checkedSignatures.m[key] = struct{}{}
	checkedSignatures.Unlock()
	return nil
}
