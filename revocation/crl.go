package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxCRLBytes bounds a CRL body: a CRL must be smaller than this, and
// reading exactly MaxCRLBytes counts as too large, as in the reference tool
// (digest §0.5). Large public CAs publish CRLs of a few MiB.
const MaxCRLBytes = 32 << 20

// CRL and CRL entry extensions (RFC 5280 §5.2, §5.3).
var (
	oidAuthorityKeyID           = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidIssuerAltName            = asn1.ObjectIdentifier{2, 5, 29, 18}
	oidCRLNumber                = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL              = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidReasonCode               = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidHoldInstructionCode      = asn1.ObjectIdentifier{2, 5, 29, 23}
)

// CRLReason codes with a meaning of their own (REV-5, REV-6).
const (
	reasonCertificateHold = 6
	reasonRemoveFromCRL   = 8
)

// checkCRL fetches and checks the CRL of every distribution point the
// certificate names (REV-5, REV-6). A revoked entry in any of them decides
// at once; otherwise any failure makes the result unknown, since the CRL
// that failed might be the one listing the certificate.
func (r *run) checkCRL(ctx context.Context, cert, issuer *x509.Certificate) outcome {
	urls := cert.CRLDistributionPoints
	if len(urls) > MaxURLs {
		err := &ServerError{Method: MethodCRL, Err: fmt.Errorf("%w: %d CRL distribution points, at most %d are used", ErrTooManyURLs, len(urls), MaxURLs)}
		return outcome{result: Unknown, reason: err.Error(), err: err}
	}
	var (
		errs  []error
		oks   []string
		until time.Time
	)
	for _, u := range urls {
		if ctx.Err() != nil {
			errs = append(errs, &ServerError{Method: MethodCRL, URL: u, Err: fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())})
			break
		}
		b, note, err := r.crlBundle(ctx, u, cert, issuer)
		if err == nil {
			var out outcome
			if out, err = crlVerdict(b, cert, r.signingTime, u, note); err == nil {
				if out.result == Revoked {
					return out
				}
				oks = append(oks, out.reason)
				if until.IsZero() || out.validUntil.Before(until) {
					until = out.validUntil
				}
				continue
			}
		}
		r.log.Debug("CRL check failed", "url", u, "error", err)
		errs = append(errs, &ServerError{Method: MethodCRL, URL: u, Err: err})
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		return outcome{result: Unknown, reason: "the CRL could not be used: " + err.Error(), err: err}
	}
	return outcome{result: OK, reason: strings.Join(oks, "; "), validUntil: until}
}

// crlBundle returns the validated base (and delta) CRL of one distribution
// point, from the cache while it is current, else downloaded (and then
// cached). note says where it came from, for the result's reason.
func (r *run) crlBundle(ctx context.Context, url string, cert, issuer *x509.Certificate) (b *Bundle, note string, err error) {
	if r.v.Evidence != nil {
		b, err := r.offlineBundle(url, cert, issuer)
		return b, " (from the evidence)", err
	}
	cache := r.v.Cache
	if cache != nil {
		b, err := cache.Get(ctx, url)
		switch {
		case err == nil && b != nil:
			if err := r.validateBundle(b, cert, issuer); err == nil {
				return b, " (cached)", nil
			} else {
				r.log.Debug("cached CRL is not usable; downloading it", "url", url, "reason", err)
			}
		case err == nil, errors.Is(err, ErrCacheMiss):
		default:
			r.warnCache(err)
		}
	}
	b, err = r.downloadBundle(ctx, url, cert, issuer)
	if err != nil {
		return nil, "", err
	}
	if cache != nil {
		if err := cache.Set(ctx, url, b); err != nil {
			r.warnCache(err)
		}
	}
	return b, "", nil
}

// validateBundle checks a cached bundle as if it had just been downloaded:
// signatures, nextUpdate, extensions, and the delta CRL when the base or
// the certificate names one.
func (r *run) validateBundle(b *Bundle, cert, issuer *x509.Certificate) error {
	if b.BaseCRL == nil {
		return fmt.Errorf("%w: the bundle has no base CRL", ErrMalformed)
	}
	if err := validateCRL(b.BaseCRL, cert, issuer, r.now, false); err != nil {
		return err
	}
	deltaURLs, err := deltaLocations(b.BaseCRL, cert)
	if err != nil {
		return err
	}
	if b.DeltaCRL == nil {
		if len(deltaURLs) > 0 {
			return fmt.Errorf("%w: a delta CRL is named but the bundle has none", ErrDeltaCRL)
		}
		return nil
	}
	if err := validateCRL(b.DeltaCRL, cert, issuer, r.now, true); err != nil {
		return err
	}
	return checkDeltaFits(b.BaseCRL, b.DeltaCRL)
}

// downloadBundle downloads and validates the base CRL at url and, when the
// base CRL (or else the certificate) names delta CRL locations, the first
// delta CRL that can be obtained and validated (REV-5). Named delta CRLs
// none of which can be used make the bundle unusable (REV-6).
func (r *run) downloadBundle(ctx context.Context, url string, cert, issuer *x509.Certificate) (*Bundle, error) {
	base, err := r.downloadCRL(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := validateCRL(base, cert, issuer, r.now, false); err != nil {
		return nil, err
	}
	deltaURLs, err := deltaLocations(base, cert)
	if err != nil {
		return nil, err
	}
	if len(deltaURLs) == 0 {
		return &Bundle{BaseCRL: base}, nil
	}
	if len(deltaURLs) > MaxURLs {
		deltaURLs = deltaURLs[:MaxURLs]
	}
	var errs []error
	for _, du := range deltaURLs {
		delta, err := r.downloadCRL(ctx, du)
		if err == nil {
			err = validateCRL(delta, cert, issuer, r.now, true)
		}
		if err == nil {
			err = checkDeltaFits(base, delta)
		}
		if err == nil {
			return &Bundle{BaseCRL: base, DeltaCRL: delta}, nil
		}
		errs = append(errs, fmt.Errorf("delta CRL %s: %w", du, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrDeltaCRL, errors.Join(errs...))
}

// downloadCRL fetches and parses one CRL.
func (r *run) downloadCRL(ctx context.Context, raw string) (*x509.RevocationList, error) {
	u, err := checkHTTPURL(raw)
	if err != nil {
		return nil, err
	}
	reqCtx, cancel := context.WithTimeout(ctx, r.crlTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
	}
	der, err := r.fetch(ctx, reqCtx, req, MaxCRLBytes-1)
	if err != nil {
		return nil, err
	}
	return parseCRL(der)
}

// parseCRL parses a DER CRL smaller than MaxCRLBytes with the standard
// library's parser.
func parseCRL(der []byte) (*x509.RevocationList, error) {
	if len(der) >= MaxCRLBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(der), MaxCRLBytes-1)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return crl, nil
}

// validateCRL checks a CRL for cert, which issuer issued (REV-5, REV-6):
// issued and signed by issuer (indirect CRLs are not supported), current at
// now, no unknown critical extension, an issuing distribution point whose
// scope covers cert, and a delta CRL indicator exactly when delta is set.
func validateCRL(crl *x509.RevocationList, cert, issuer *x509.Certificate, now time.Time, delta bool) error {
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: the CRL issuer %q is not the certificate's issuer %q (indirect CRLs are not supported)", ErrBadSignature, crl.Issuer, issuer.Subject)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if crl.NextUpdate.IsZero() {
		return fmt.Errorf("%w: the CRL has no nextUpdate", ErrExpired)
	}
	if now.After(crl.NextUpdate) {
		return fmt.Errorf("%w: the CRL's nextUpdate %s has passed", ErrExpired, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	isDelta := false
	for _, ext := range crl.Extensions {
		switch {
		case ext.Id.Equal(oidIssuingDistributionPoint):
			if err := checkIDP(ext.Value, cert); err != nil {
				return err
			}
		case ext.Id.Equal(oidDeltaCRLIndicator):
			isDelta = true
		case ext.Id.Equal(oidCRLNumber), ext.Id.Equal(oidAuthorityKeyID), ext.Id.Equal(oidIssuerAltName), ext.Id.Equal(oidFreshestCRL):
		default:
			if ext.Critical {
				return fmt.Errorf("%w: unknown critical CRL extension %v", ErrUnsupportedCRL, ext.Id)
			}
		}
	}
	switch {
	case delta && !isDelta:
		return fmt.Errorf("%w: the delta CRL has no delta CRL indicator", ErrDeltaCRL)
	case !delta && isDelta:
		return fmt.Errorf("%w: a delta CRL was served where a base CRL is expected", ErrUnsupportedCRL)
	}
	return nil
}

// checkIDP refuses CRLs whose issuingDistributionPoint says they are
// indirect, partitioned by reason, or limited to a class of certificates
// cert is not in (RFC 5280 §5.2.5). The distribution point name itself is
// not compared with the URL the CRL came from.
func checkIDP(v []byte, cert *x509.Certificate) error {
	s := cryptobyte.String(v)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return fmt.Errorf("%w: malformed issuing distribution point", ErrUnsupportedCRL)
	}
	if !seq.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return fmt.Errorf("%w: malformed issuing distribution point", ErrUnsupportedCRL)
	}
	var flags [6]bool
	for _, tag := range []int{1, 2, 3, 4, 5} {
		var val cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&val, &present, cbasn1.Tag(tag).ContextSpecific()) {
			return fmt.Errorf("%w: malformed issuing distribution point", ErrUnsupportedCRL)
		}
		if !present {
			continue
		}
		if tag == 3 { // onlySomeReasons: a BIT STRING, present means partitioned
			flags[3] = true
			continue
		}
		if len(val) != 1 {
			return fmt.Errorf("%w: malformed issuing distribution point", ErrUnsupportedCRL)
		}
		flags[tag] = val[0] != 0
	}
	if !seq.Empty() {
		return fmt.Errorf("%w: malformed issuing distribution point", ErrUnsupportedCRL)
	}
	switch {
	case flags[4]:
		return fmt.Errorf("%w: indirect CRL", ErrUnsupportedCRL)
	case flags[3]:
		return fmt.Errorf("%w: the CRL covers only some revocation reasons", ErrUnsupportedCRL)
	case flags[5]:
		return fmt.Errorf("%w: the CRL covers only attribute certificates", ErrUnsupportedCRL)
	case flags[1] && cert.IsCA:
		return fmt.Errorf("%w: the CRL covers only end-entity certificates and this is a CA", ErrUnsupportedCRL)
	case flags[2] && !cert.IsCA:
		return fmt.Errorf("%w: the CRL covers only CA certificates and this is an end-entity certificate", ErrUnsupportedCRL)
	}
	return nil
}

// deltaLocations returns the delta CRL URLs the base CRL's freshestCRL
// extension names, or else those of the certificate's.
func deltaLocations(base *x509.RevocationList, cert *x509.Certificate) ([]string, error) {
	for _, exts := range [][]pkix.Extension{base.Extensions, cert.Extensions} {
		for _, ext := range exts {
			if ext.Id.Equal(oidFreshestCRL) {
				urls, err := distributionPointURIs(ext.Value)
				if err != nil {
					return nil, fmt.Errorf("%w: malformed freshest CRL extension: %v", ErrDeltaCRL, err)
				}
				if len(urls) == 0 {
					return nil, fmt.Errorf("%w: the freshest CRL extension names no URI", ErrDeltaCRL)
				}
				return urls, nil
			}
		}
	}
	return nil, nil
}

// distributionPointURIs reads the URIs of the fullName of each
// DistributionPoint in a CRLDistributionPoints-shaped value (RFC 5280
// §4.2.1.13, also the syntax of freshestCRL).
func distributionPointURIs(v []byte) ([]string, error) {
	s := cryptobyte.String(v)
	var dps cryptobyte.String
	if !s.ReadASN1(&dps, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("not a SEQUENCE")
	}
	var urls []string
	for !dps.Empty() {
		var dp cryptobyte.String
		if !dps.ReadASN1(&dp, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed distribution point")
		}
		var name cryptobyte.String
		var present bool
		if !dp.ReadOptionalASN1(&name, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errors.New("malformed distribution point name")
		}
		if !present {
			continue
		}
		var full cryptobyte.String
		if !name.ReadOptionalASN1(&full, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errors.New("malformed full name")
		}
		for present && !full.Empty() {
			var gn cryptobyte.String
			var tag cbasn1.Tag
			if !full.ReadAnyASN1(&gn, &tag) {
				return nil, errors.New("malformed general name")
			}
			if tag == cbasn1.Tag(6).ContextSpecific() { // uniformResourceIdentifier
				urls = append(urls, string(gn))
			}
		}
	}
	return urls, nil
}

// checkDeltaFits checks that delta may be applied to base (RFC 5280
// §5.2.4, REV-6): both carry CRL numbers, the delta's is greater, and the
// base CRL number the delta builds on is not greater than the base's.
func checkDeltaFits(base, delta *x509.RevocationList) error {
	if base.Number == nil || delta.Number == nil {
		return fmt.Errorf("%w: a CRL number is missing", ErrDeltaCRL)
	}
	var indicator *big.Int
	for _, ext := range delta.Extensions {
		if ext.Id.Equal(oidDeltaCRLIndicator) {
			indicator = new(big.Int)
			s := cryptobyte.String(ext.Value)
			if !s.ReadASN1Integer(indicator) || !s.Empty() {
				return fmt.Errorf("%w: malformed delta CRL indicator", ErrDeltaCRL)
			}
		}
	}
	switch {
	case indicator == nil:
		return fmt.Errorf("%w: the delta CRL has no delta CRL indicator", ErrDeltaCRL)
	case delta.Number.Cmp(base.Number) <= 0:
		return fmt.Errorf("%w: delta CRL number %s is not greater than base CRL number %s", ErrDeltaCRL, delta.Number, base.Number)
	case indicator.Cmp(base.Number) > 0:
		return fmt.Errorf("%w: the delta CRL needs base CRL number %s or later, the base CRL is number %s", ErrDeltaCRL, indicator, base.Number)
	}
	return nil
}

// crlVerdict looks cert up in a validated bundle (REV-5, REV-6). Entries
// of the base and the delta CRL are merged: any entry whose reason is
// neither certificateHold nor removeFromCRL revokes; otherwise the latest
// entry decides, certificateHold revoking and removeFromCRL lifting the
// hold. An unknown critical entry extension is an error.
func crlVerdict(b *Bundle, cert *x509.Certificate, signingTime time.Time, url, note string) (outcome, error) {
	out, err := crlEntryVerdict(b, cert, signingTime, url, note)
	out.validUntil = b.BaseCRL.NextUpdate
	if b.DeltaCRL != nil && b.DeltaCRL.NextUpdate.Before(out.validUntil) {
		out.validUntil = b.DeltaCRL.NextUpdate
	}
	return out, err
}

// crlEntryVerdict is crlVerdict without the evidence's lifetime.
func crlEntryVerdict(b *Bundle, cert *x509.Certificate, signingTime time.Time, url, note string) (outcome, error) {
	type hit struct {
		e     *x509.RevocationListEntry
		delta bool
	}
	var hits []hit
	lists := []*x509.RevocationList{b.BaseCRL, b.DeltaCRL}
	for i, crl := range lists {
		if crl == nil {
			continue
		}
		for j := range crl.RevokedCertificateEntries {
			if e := &crl.RevokedCertificateEntries[j]; e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				hits = append(hits, hit{e, i == 1})
			}
		}
	}
	where := "CRL " + url + note
	if len(hits) == 0 {
		return outcome{result: OK, reason: fmt.Sprintf("%s does not list the certificate", where)}, nil
	}
	invalidity := make([]time.Time, len(hits))
	for i, h := range hits {
		for _, ext := range h.e.Extensions {
			switch {
			case ext.Id.Equal(oidInvalidityDate):
				// A malformed invalidity date is ignored: the entry
				// revokes without it.
				invalidity[i], _ = parseInvalidityDate(ext.Value)
			case ext.Id.Equal(oidReasonCode), ext.Id.Equal(oidHoldInstructionCode):
			default:
				if ext.Critical {
					return outcome{}, fmt.Errorf("%w: unknown critical CRL entry extension %v", ErrUnsupportedCRL, ext.Id)
				}
			}
		}
	}
	describe := func(i int) string {
		e := hits[i].e
		kind := "base"
		if hits[i].delta {
			kind = "delta"
		}
		return fmt.Sprintf("%s (%s) lists the certificate as revoked at %s, reason %s", where, kind, e.RevocationTime.UTC().Format(time.RFC3339), reasonName(e.ReasonCode))
	}
	for i, h := range hits {
		if h.e.ReasonCode != reasonCertificateHold && h.e.ReasonCode != reasonRemoveFromCRL {
			return revokedVerdict(describe(i), invalidity[i], signingTime), nil
		}
	}
	latest := slices.MaxFunc(indexes(len(hits)), func(a, b int) int {
		if hits[a].delta != hits[b].delta {
			if hits[a].delta {
				return 1
			}
			return -1
		}
		return hits[a].e.RevocationTime.Compare(hits[b].e.RevocationTime)
	})
	if hits[latest].e.ReasonCode == reasonRemoveFromCRL {
		return outcome{result: OK, reason: fmt.Sprintf("%s (%s) lifts the certificate's hold (removeFromCRL)", where, map[bool]string{false: "base", true: "delta"}[hits[latest].delta])}, nil
	}
	return revokedVerdict(describe(latest), invalidity[latest], signingTime), nil
}

func indexes(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
