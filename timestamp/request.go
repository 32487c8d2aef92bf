package timestamp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// Timestamper obtains an RFC 3161 token over a signature (SIGN-5). The
// token it returns has passed the response checks of TSA-2; the caller
// verifies its chain with Token.Verify (TSA-3).
type Timestamper interface {
	Timestamp(ctx context.Context, req *Request) (*Token, error)
}

// Request is what to timestamp.
type Request struct {
	// Signature is the envelope's primitive signature bytes; the message
	// imprint is Hash(Signature) (TSA-1).
	Signature []byte
	// Hash is the message imprint's hash: the signing algorithm's,
	// signature.Algorithm.Hash() (ALG-4). SHA-256, SHA-384 or SHA-512.
	Hash crypto.Hash
}

// validate checks the request before anything is sent.
func (r *Request) validate() error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: no request", ErrInvalidRequest)
	case len(r.Signature) == 0:
		return fmt.Errorf("%w: no signature bytes to timestamp", ErrInvalidRequest)
	case hashOID(r.Hash) == nil:
		return fmt.Errorf("%w: %w: %s; use SHA-256, SHA-384 or SHA-512", ErrInvalidRequest, ErrUnsupportedHash, hashName(r.Hash))
	}
	return nil
}

// maxNonce bounds the request nonce: below 2^159, so that its DER INTEGER
// is at most 20 bytes and stays positive, as the reference client does.
func maxNonce() *big.Int { return new(big.Int).Lsh(big.NewInt(1), 159) }

// query is an encoded TimeStampReq and what its answer must echo.
type query struct {
	der     []byte
	imprint messageImprint
	nonce   *big.Int
}

// newQuery builds the TimeStampReq of TSA-1: version 1, the message
// imprint with NULL hash parameters, a random nonce below 2^159, certReq
// true, no policy and no extensions.
func newQuery(r *Request) (*query, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	h := r.Hash.New()
	h.Write(r.Signature)
	nonce, err := rand.Int(rand.Reader, maxNonce())
	if err != nil {
		return nil, fmt.Errorf("timestamp request nonce: %w", err)
	}
	q := &query{
		imprint: messageImprint{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: hashOID(r.Hash), Parameters: asn1.NullRawValue},
			HashedMessage: h.Sum(nil),
		},
		nonce: nonce,
	}
	q.der, err = asn1.Marshal(timeStampReq{Version: 1, MessageImprint: q.imprint, Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	return q, nil
}
