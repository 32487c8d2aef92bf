package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// TS-2: PEM (CERTIFICATE blocks only) or concatenated DER, bounded, with
// clear errors.
func TestParseCertificatesTable(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	root, inter := chain.Root.Cert, chain.Intermediate.Cert
	twoPEM := testpki.CertsPEM(inter, root)
	keyPEM := testpki.KeyPEM(t, chain.Leaf.Key)
	tests := []struct {
		name    string
		in      []byte
		want    []*x509.Certificate
		wantMsg string
	}{
		{name: "one PEM", in: testpki.CertsPEM(root), want: []*x509.Certificate{root}},
		{name: "two PEM", in: twoPEM, want: []*x509.Certificate{inter, root}},
		{name: "PEM with text around", in: append(append([]byte("Subject: root\n"), twoPEM...), "\ntrailer\n"...), want: []*x509.Certificate{inter, root}},
		{name: "CRLF PEM", in: bytes.ReplaceAll(testpki.CertsPEM(root), []byte("\n"), []byte("\r\n")), want: []*x509.Certificate{root}},
		{name: "one DER", in: root.Raw, want: []*x509.Certificate{root}},
		{name: "two DER", in: append(append([]byte{}, inter.Raw...), root.Raw...), want: []*x509.Certificate{inter, root}},
		{name: "empty", in: nil, wantMsg: "empty"},
		{name: "whitespace", in: []byte(" \n\t"), wantMsg: "empty"},
		{name: "garbage", in: []byte("hello world"), wantMsg: "neither PEM nor DER"},
		{name: "truncated DER", in: root.Raw[:len(root.Raw)-10], wantMsg: "neither PEM nor DER"},
		{name: "DER with trailing junk", in: append(append([]byte{}, root.Raw...), 0x00, 0x01), wantMsg: "neither PEM nor DER"},
		{name: "truncated PEM", in: twoPEM[:len(twoPEM)-40], wantMsg: "truncated or malformed"},
		{name: "only a BEGIN line", in: []byte("-----BEGIN CERTIFICATE-----\n"), wantMsg: "truncated or malformed"},
		{name: "bad base64 block then good", in: append([]byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), testpki.CertsPEM(root)...), wantMsg: "truncated or malformed"},
		{name: "private key block", in: keyPEM, wantMsg: `"PRIVATE KEY"`},
		{name: "cert then key", in: append(testpki.CertsPEM(root), keyPEM...), wantMsg: "PEM block 2"},
		{name: "CERTIFICATE block of junk", in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), wantMsg: "PEM block 1"},
		{name: "too large", in: append(testpki.CertsPEM(root), make([]byte, MaxCertificateFileBytes)...), wantMsg: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCertificates(tc.in)
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				sameCerts(t, got, tc.want)
				return
			}
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.wantMsg)) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

func FuzzParseCertificates(f *testing.F) {
	chain, err := seedChain()
	if err != nil {
		f.Fatal(err)
	}
	pemTwo := testpki.CertsPEM(chain[0], chain[1])
	f.Add(pemTwo)
	f.Add(chain[0].Raw)
	f.Add(append(append([]byte{}, chain[0].Raw...), chain[1].Raw...))
	f.Add(pemTwo[:len(pemTwo)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN X-----\nAAAA\n-----END X-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error %v does not wrap ErrInvalidCertificate", err)
			}
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("success without certificates")
		}
		// What parsed re-encodes to PEM that parses to the same certificates.
		again, err := ParseCertificates(testpki.CertsPEM(certs...))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(again) != len(certs) {
			t.Fatalf("re-parse gave %d certificates, want %d", len(again), len(certs))
		}
		for i := range certs {
			if !bytes.Equal(again[i].Raw, certs[i].Raw) {
				t.Fatalf("certificate %d changed on re-parse", i)
			}
			// The store rules never panic on what parses.
			for _, typ := range Types() {
				_ = checkCertificate(typ, certs[i])
			}
		}
	})
}

// seedChain issues a root and a self-signed leaf without a testing.TB.
func seedChain() ([]*x509.Certificate, error) {
	root, err := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
	if err != nil {
		return nil, err
	}
	leaf, err := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("leaf"), KeyType: "ec-256"}, root)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{leaf.Cert, root.Cert}, nil
}
