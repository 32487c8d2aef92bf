package verifier

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// TestTrustStoreConfiguration (TS-6): a trust store that a statement names
// and that is missing, empty or holds a file that is not a certificate is
// invalid configuration. Verify and CheckTrustStores refuse it before the
// signature is looked at, with a *TrustStoreError naming the statement,
// the store and its directory, at every level, whatever the other stores
// hold, and for every store type. The store is the real FileStore on disk.
func TestTrustStoreConfiguration(t *testing.T) {
	f := newFixture(t)
	root := t.TempDir()
	put := func(typ, name, file string, data []byte) {
		dir := filepath.Join(root, "x509", typ, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if file != "" {
			if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("ca", "acme", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	put("tsa", "tsa", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	put("ca", "empty", "", nil)
	put("ca", "garbage", "notes.txt", []byte("not a certificate"))
	store := truststore.NewFileStore(root, nil)
	env := f.sign(t, signature.MediaTypeJWS, nil)

	tests := []struct {
		name    string
		stmt    *trustpolicy.Statement
		store   string // "type:name" the error must name
		wantErr error
	}{
		{"missing ca store", statement("strict", nil, []string{"ca:missing"}, []string{"*"}), "ca:missing", truststore.ErrStoreNotFound},
		{"missing store before the one that trusts the signer", statement("strict", nil, []string{"ca:missing", "ca:acme"}, []string{"*"}), "ca:missing", truststore.ErrStoreNotFound},
		{"missing store after the one that trusts the signer", statement("strict", nil, []string{"ca:acme", "ca:missing"}, []string{"*"}), "ca:missing", truststore.ErrStoreNotFound},
		{"empty ca store", statement("strict", nil, []string{"ca:empty"}, []string{"*"}), "ca:empty", truststore.ErrEmptyStore},
		{"empty store next to the one that trusts the signer", statement("strict", nil, []string{"ca:acme", "ca:empty"}, []string{"*"}), "ca:empty", truststore.ErrEmptyStore},
		{"store holding a file that is not a certificate", statement("strict", nil, []string{"ca:acme", "ca:garbage"}, []string{"*"}), "ca:garbage", truststore.ErrInvalidCertificate},
		{"missing tsa store", statement("strict", nil, []string{"ca:acme", "tsa:missing"}, []string{"*"}), "tsa:missing", truststore.ErrStoreNotFound},
		{"missing tsa store, timestamp only after expiry", &trustpolicy.Statement{
			Name:                  "p",
			SignatureVerification: trustpolicy.SignatureVerification{Level: "strict", VerifyTimestamp: trustpolicy.TimestampAfterCertExpiry},
			TrustStores:           []string{"ca:acme", "tsa:missing"}, TrustedIdentities: []string{"*"},
		}, "tsa:missing", truststore.ErrStoreNotFound},
		{"missing signingAuthority store for a notary.x509 signature", statement("strict", nil, []string{"ca:acme", "signingAuthority:missing"}, []string{"*"}), "signingAuthority:missing", truststore.ErrStoreNotFound},
		{"missing store at audit", statement("audit", nil, []string{"ca:missing"}, []string{"*"}), "ca:missing", truststore.ErrStoreNotFound},
		{"missing store with authenticity overridden to log", statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"authenticity": "log"}, []string{"ca:missing"}, []string{"*"}), "ca:missing", truststore.ErrStoreNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			v := &Verifier{Store: store, Now: time.Now}
			check := func(what string, err error) {
				t.Helper()
				var te *TrustStoreError
				if !errors.As(err, &te) || !errors.Is(err, ErrTrustStore) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("%s: err = %v, want a *TrustStoreError wrapping %v", what, err, tc.wantErr)
				}
				if errors.Is(err, ErrVerification) {
					t.Errorf("%s: a store error is configuration, not a verification failure: %v", what, err)
				}
				if string(te.Type)+":"+te.Name != tc.store || te.Statement != "p" {
					t.Errorf("%s: error names %s:%s of %q, want %s of \"p\"", what, te.Type, te.Name, te.Statement, tc.store)
				}
				typ, name, _ := strings.Cut(tc.store, ":")
				msg := err.Error()
				if !strings.Contains(msg, `"`+tc.store+`"`) || !strings.Contains(msg, filepath.Join(root, "x509", typ, name)) || !strings.Contains(msg, `statement "p"`) {
					t.Errorf("%s: message %q does not name the statement, the store and its path", what, msg)
				}
			}
			check("CheckTrustStores", v.CheckTrustStores(ctx, tc.stmt))
			res, err := v.Verify(ctx, Input{Statement: tc.stmt, MediaType: signature.MediaTypeJWS, Envelope: env, CheckTarget: checkTarget})
			if res != nil {
				t.Errorf("Verify returned a result: %+v", res)
			}
			check("Verify", err)
			// The signature itself is never looked at: a garbage envelope
			// gets the same answer.
			_, err = v.Verify(ctx, Input{Statement: tc.stmt, MediaType: signature.MediaTypeJWS, Envelope: []byte("garbage"), CheckTarget: checkTarget})
			check("Verify of a garbage envelope", err)
		})
	}

	t.Run("usable stores verify", func(t *testing.T) {
		v := &Verifier{Store: store}
		stmt := statement("strict", nil, []string{"ca:acme", "tsa:tsa"}, []string{"*"})
		stmt.SignatureVerification.VerifyTimestamp = trustpolicy.TimestampAfterCertExpiry
		if err := v.CheckTrustStores(context.Background(), stmt); err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(context.Background(), Input{Statement: stmt, MediaType: signature.MediaTypeJWS, Envelope: env, CheckTarget: checkTarget})
		if err != nil || !res.Verified {
			t.Fatalf("err %v, result %+v", err, res)
		}
	})
	t.Run("skip statement names no store", func(t *testing.T) {
		v := &Verifier{Store: store}
		if err := v.CheckTrustStores(context.Background(), &trustpolicy.Statement{Name: "p", SignatureVerification: trustpolicy.SignatureVerification{Level: "skip"}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancelled context is not a store error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := (&Verifier{Store: store}).CheckTrustStores(ctx, strict())
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTrustStore) {
			t.Fatalf("err = %v", err)
		}
	})
}
