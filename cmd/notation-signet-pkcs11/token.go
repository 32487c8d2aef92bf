//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/signet-dev/signet/internal/pkcs11uri"
	"github.com/signet-dev/signet/plugin/proto"
)

// maxObjects bounds the objects one search collects: a URI that matches
// more keys or certificates than this is ambiguous anyway.
const maxObjects = 64

// The named curves the plugin supports, by CKA_EC_PARAMS OID.
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// hsmKey is a private key in a logged-in session.
type hsmKey struct {
	p       *pkcs11.Ctx
	sh      pkcs11.SessionHandle
	session bool
	key     pkcs11.ObjectHandle
	spec    proto.KeySpec
	ecSize  int    // EC: bytes of r and of s
	modulus []byte // RSA: CKA_MODULUS, to pick the certificate
	pin     string
	always  bool // CKA_ALWAYS_AUTHENTICATE
	cert    []byte
}

// openToken loads the module, finds the one token and the one private key
// ref names, and logs in.
func openToken(ctx context.Context, ref *keyRef) (tokenKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(ref.module); err != nil || !fi.Mode().IsRegular() {
		return nil, validation("the PKCS #11 module %s is not a file", ref.module)
	}
	p := pkcs11.New(ref.module)
	if p == nil {
		return nil, validation("cannot load the PKCS #11 module %s", ref.module)
	}
	if err := p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p.Destroy()
		return nil, p11Error("initialise the PKCS #11 module", err)
	}
	k := &hsmKey{p: p, pin: ref.pin}
	if err := k.open(ref); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

func (k *hsmKey) open(ref *keyRef) error {
	u := ref.uri
	info, err := k.p.GetInfo()
	if err != nil {
		return p11Error("read the module information", err)
	}
	if !matchLibrary(u, info) {
		return validation("the module %s does not match the URI's library-* attributes", ref.module)
	}
	slots, err := k.p.GetSlotList(true)
	if err != nil {
		return p11Error("list the slots", err)
	}
	var matched []uint
	var token pkcs11.TokenInfo
	for _, s := range slots {
		si, err := k.p.GetSlotInfo(s)
		if err != nil {
			return p11Error("read a slot", err)
		}
		ti, err := k.p.GetTokenInfo(s)
		if err != nil {
			return p11Error("read a token", err)
		}
		// An uninitialised token (SoftHSM2 always offers one) holds no
		// key.
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if matchSlot(u, uint64(s), si, ti) {
			matched = append(matched, s)
			token = ti
		}
	}
	switch len(matched) {
	case 0:
		return validation("no token in %s matches the key ID's token attributes%s", ref.module, describeToken(u))
	case 1:
	default:
		return validation("%d tokens match the key ID%s; add token=, serial= or slot-id= to choose one", len(matched), describeToken(u))
	}
	if k.sh, err = k.p.OpenSession(matched[0], pkcs11.CKF_SERIAL_SESSION); err != nil {
		return p11Error("open a session", err)
	}
	k.session = true
	if err := k.login(ref, token); err != nil {
		return err
	}
	if err := k.findKey(u); err != nil {
		return err
	}
	return k.findCertificate()
}

func (k *hsmKey) login(ref *keyRef, token pkcs11.TokenInfo) error {
	if token.Flags&pkcs11.CKF_LOGIN_REQUIRED == 0 && !ref.hasPIN {
		return nil
	}
	if !ref.hasPIN && token.Flags&pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH == 0 {
		return &proto.Error{Code: proto.ErrorCodeAccessDenied, Message: fmt.Sprintf(
			"token %q needs a user PIN: give pin-source (or pin-value) in the key ID, pluginConfig %q, or $%s", token.Label, ConfigPinSource, EnvPIN)}
	}
	if err := k.p.Login(k.sh, pkcs11.CKU_USER, ref.pin); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return p11Error(fmt.Sprintf("log in to token %q", token.Label), err)
	}
	return nil
}

// findKey finds the one private key the URI names and reads its type and
// size.
func (k *hsmKey) findKey(u *pkcs11uri.URI) error {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)}
	label, hasLabel := u.Path(pkcs11uri.Object)
	if hasLabel {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	id, hasID := u.Path(pkcs11uri.ID)
	if hasID {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(id)))
	}
	keys, err := k.find(tmpl)
	if err != nil {
		return err
	}
	switch len(keys) {
	case 0:
		return validation("no private key in the token matches the key ID%s (is the PIN for the right token?)", describeObject(u))
	case 1:
	default:
		return validation("%d private keys match the key ID%s; name one with object= and id=", len(keys), describeObject(u))
	}
	k.key = keys[0]
	attrs, err := k.p.GetAttributeValue(k.sh, k.key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
	})
	if err != nil || len(attrs) != 1 {
		return p11Error("read the key type", err)
	}
	kt, ok := ulong(attrs[0].Value)
	if !ok {
		return &proto.Error{Code: proto.ErrorCodeGeneric, Message: "the token returned a malformed CKA_KEY_TYPE"}
	}
	// CKA_ALWAYS_AUTHENTICATE is optional (PKCS #11 v2.20); a module that
	// does not know it simply has none.
	if a, err := k.p.GetAttributeValue(k.sh, k.key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil)}); err == nil && len(a) == 1 {
		k.always = len(a[0].Value) == 1 && a[0].Value[0] != 0
	}
	switch kt {
	case pkcs11.CKK_RSA:
		a, err := k.p.GetAttributeValue(k.sh, k.key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil)})
		if err != nil || len(a) != 1 {
			return p11Error("read the RSA modulus", err)
		}
		k.modulus = bytes.TrimLeft(a[0].Value, "\x00")
		switch bits := len(k.modulus) * 8; bits {
		case 2048:
			k.spec = proto.KeySpecRSA2048
		case 3072:
			k.spec = proto.KeySpecRSA3072
		case 4096:
			k.spec = proto.KeySpecRSA4096
		default:
			return validation("the key is RSA-%d; supported: RSA-2048, RSA-3072, RSA-4096", bits)
		}
	case pkcs11.CKK_EC:
		a, err := k.p.GetAttributeValue(k.sh, k.key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil)})
		if err != nil || len(a) != 1 {
			return p11Error("read the EC parameters", err)
		}
		var oid asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(a[0].Value, &oid); err != nil || len(rest) != 0 {
			return validation("the EC key's parameters are not a named curve")
		}
		switch {
		case oid.Equal(oidP256):
			k.spec, k.ecSize = proto.KeySpecEC256, 32
		case oid.Equal(oidP384):
			k.spec, k.ecSize = proto.KeySpecEC384, 48
		case oid.Equal(oidP521):
			k.spec, k.ecSize = proto.KeySpecEC521, 66
		default:
			return validation("the EC key's curve %v is not P-256, P-384 or P-521", oid)
		}
	default:
		return validation("the key's type (CKK 0x%x) is neither RSA nor EC", kt)
	}
	return nil
}

// findCertificate looks for the key's X.509 certificate: same CKA_ID when
// the key has one, else same CKA_LABEL. Among several, those whose public
// key is not the key's are dropped (RSA: by modulus; EC: by curve), then
// the one with the latest NotAfter is taken.
func (k *hsmKey) findCertificate() error {
	attrs, err := k.p.GetAttributeValue(k.sh, k.key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
	})
	if err != nil || len(attrs) != 2 {
		return p11Error("read the key's CKA_ID and CKA_LABEL", err)
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
	}
	switch {
	case len(attrs[0].Value) > 0:
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, attrs[0].Value))
	case len(attrs[1].Value) > 0:
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, attrs[1].Value))
	default:
		return nil // nothing to match a certificate by
	}
	objs, err := k.find(tmpl)
	if err != nil {
		return err
	}
	var best *x509.Certificate
	for _, o := range objs {
		v, err := k.p.GetAttributeValue(k.sh, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil || len(v) != 1 {
			continue
		}
		c, err := x509.ParseCertificate(v[0].Value)
		if err != nil || !k.matches(c.PublicKey) {
			continue
		}
		if best == nil || c.NotAfter.After(best.NotAfter) {
			best = c
		}
	}
	if best != nil {
		k.cert = best.Raw
	}
	return nil
}

// matches reports whether pub can be the key's public key.
func (k *hsmKey) matches(pub any) bool {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return k.modulus != nil && bytes.Equal(pub.N.Bytes(), k.modulus)
	case *ecdsa.PublicKey:
		return k.ecSize != 0 && (pub.Curve.Params().BitSize+7)/8 == k.ecSize
	}
	return false
}

// find collects the objects matching tmpl, at most maxObjects+1 (more is
// reported as ambiguous by the callers).
func (k *hsmKey) find(tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := k.p.FindObjectsInit(k.sh, tmpl); err != nil {
		return nil, p11Error("search the token", err)
	}
	objs, _, err := k.p.FindObjects(k.sh, maxObjects+1)
	if ferr := k.p.FindObjectsFinal(k.sh); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return nil, p11Error("search the token", err)
	}
	return objs, nil
}

func (k *hsmKey) Spec() proto.KeySpec { return k.spec }
func (k *hsmKey) Certificate() []byte { return k.cert }

// SignDigest signs digest with CKM_RSA_PKCS_PSS or CKM_ECDSA.
func (k *hsmKey) SignDigest(digest []byte, h crypto.Hash) ([]byte, error) {
	var mech *pkcs11.Mechanism
	if k.ecSize == 0 {
		hashMech, mgf := uint(pkcs11.CKM_SHA256), uint(pkcs11.CKG_MGF1_SHA256)
		switch h {
		case crypto.SHA384:
			hashMech, mgf = pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384
		case crypto.SHA512:
			hashMech, mgf = pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512
		}
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(h.Size())))
	} else {
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	}
	if err := k.p.SignInit(k.sh, []*pkcs11.Mechanism{mech}, k.key); err != nil {
		return nil, p11Error("start signing", err)
	}
	if k.always {
		if err := k.p.Login(k.sh, pkcs11.CKU_CONTEXT_SPECIFIC, k.pin); err != nil {
			return nil, p11Error("authenticate for the key (CKA_ALWAYS_AUTHENTICATE)", err)
		}
	}
	sig, err := k.p.Sign(k.sh, digest)
	if err != nil {
		return nil, p11Error("sign", err)
	}
	if k.ecSize != 0 {
		return fixedRS(sig, k.ecSize)
	}
	return sig, nil
}

// Close ends the session and unloads the module.
func (k *hsmKey) Close() error {
	if k.session {
		k.p.CloseSession(k.sh)
		k.session = false
	}
	k.p.Finalize()
	k.p.Destroy()
	return nil
}

// matchLibrary checks the library-* attributes against the module.
func matchLibrary(u *pkcs11uri.URI, info pkcs11.Info) bool {
	if v, ok := u.Path(pkcs11uri.LibraryManufacturer); ok && v != strings.TrimRight(info.ManufacturerID, " ") {
		return false
	}
	if v, ok := u.Path(pkcs11uri.LibraryDescription); ok && v != strings.TrimRight(info.LibraryDescription, " ") {
		return false
	}
	if v, ok := u.Path(pkcs11uri.LibraryVersion); ok {
		major, minor, _ := pkcs11uri.ParseVersion(v)
		if info.LibraryVersion.Major != major || info.LibraryVersion.Minor != minor {
			return false
		}
	}
	return true
}

// matchSlot checks the slot and token attributes.
func matchSlot(u *pkcs11uri.URI, id uint64, si pkcs11.SlotInfo, ti pkcs11.TokenInfo) bool {
	if v, ok := u.SlotID(); ok && v != id {
		return false
	}
	for _, c := range []struct {
		attr, have string
	}{
		{pkcs11uri.SlotDescription, si.SlotDescription},
		{pkcs11uri.SlotManufacturer, si.ManufacturerID},
		{pkcs11uri.Token, ti.Label},
		{pkcs11uri.Manufacturer, ti.ManufacturerID},
		{pkcs11uri.Serial, ti.SerialNumber},
		{pkcs11uri.Model, ti.Model},
	} {
		if v, ok := u.Path(c.attr); ok && v != c.have {
			return false
		}
	}
	return true
}

// describeToken and describeObject quote the URI's selecting attributes
// for messages (never the PIN).
func describeToken(u *pkcs11uri.URI) string {
	return describe(u, pkcs11uri.Token, pkcs11uri.Serial, pkcs11uri.Manufacturer, pkcs11uri.Model, pkcs11uri.SlotID)
}

func describeObject(u *pkcs11uri.URI) string {
	return describe(u, pkcs11uri.Object, pkcs11uri.ID)
}

func describe(u *pkcs11uri.URI, names ...string) string {
	var parts []string
	for _, n := range names {
		if v, ok := u.Path(n); ok {
			if n == pkcs11uri.ID {
				v = fmt.Sprintf("%x", v)
			}
			parts = append(parts, fmt.Sprintf("%s=%q", n, v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// ulong decodes a CK_ULONG attribute value (native byte order).
func ulong(b []byte) (uint64, bool) {
	switch len(b) {
	case 8:
		return binary.NativeEndian.Uint64(b), true
	case 4:
		return uint64(binary.NativeEndian.Uint32(b)), true
	}
	return 0, false
}

func isCode(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// p11Error maps a PKCS #11 failure to a plugin error: PIN and login
// failures are ACCESS_DENIED, the rest ERROR.
func p11Error(what string, err error) *proto.Error {
	if err == nil {
		err = errors.New("unexpected answer")
	}
	code := proto.ErrorCodeGeneric
	var e pkcs11.Error
	if errors.As(err, &e) {
		switch uint(e) {
		case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED,
			pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_USER_PIN_NOT_INITIALIZED, pkcs11.CKR_USER_NOT_LOGGED_IN:
			code = proto.ErrorCodeAccessDenied
		}
	}
	return &proto.Error{Code: code, Message: what + ": " + err.Error()}
}
