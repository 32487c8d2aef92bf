package verifier

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// anchors are the certificates of a statement's trust stores, by type and
// store name.
type anchors map[truststore.Type]map[string][]*x509.Certificate

// CheckTrustStores loads every trust store the statement names, of every
// type (ca, signingAuthority, tsa), and fails with a *TrustStoreError when
// one is missing, empty or unreadable (TS-6): a trust policy naming such a
// store is invalid configuration, refused before any signature is looked
// at, and never "not trusted". A skip statement names no stores and
// passes. Verify runs the same check; callers evaluating several
// signatures call it once first so that a misconfiguration is reported as
// such even when there is no signature. Wrap the Store in a
// truststore.Cache to read each store once.
func (v *Verifier) CheckTrustStores(ctx context.Context, stmt *trustpolicy.Statement) error {
	if v.Store == nil {
		return fmt.Errorf("verify: no trust store")
	}
	_, err := v.loadTrustStores(ctx, stmt)
	return err
}

// loadTrustStores reads the statement's stores in listed order, per type.
func (v *Verifier) loadTrustStores(ctx context.Context, stmt *trustpolicy.Statement) (anchors, error) {
	out := anchors{}
	if stmt.IsSkip() {
		return out, nil
	}
	for _, t := range truststore.Types() {
		for _, name := range stmt.StoresOfType(string(t)) {
			certs, err := v.Store.GetCertificates(ctx, t, name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, &TrustStoreError{Statement: stmt.Name, Type: t, Name: name, Err: err}
			}
			if out[t] == nil {
				out[t] = map[string][]*x509.Certificate{}
			}
			out[t][name] = certs
		}
	}
	if err := v.checkKeyStores(ctx, stmt); err != nil {
		return nil, err
	}
	return out, nil
}

// checkKeyStores loads the statement's publickey stores (trustStores and
// rekorTrustStores, signet/v1) with the rules of loadTrustStores.
func (v *Verifier) checkKeyStores(ctx context.Context, stmt *trustpolicy.Statement) error {
	names := stmt.StoresOfType(trustpolicy.StorePublicKey)
	for _, n := range stmt.RekorStores() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	ks, ok := v.Store.(truststore.KeyStore)
	for _, name := range names {
		var err error
		if !ok {
			err = fmt.Errorf("the trust store has no publickey stores")
		} else {
			_, err = ks.GetPublicKeys(ctx, name)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &TrustStoreError{Statement: stmt.Name, Type: truststore.TypePublicKey, Name: name, Err: err}
		}
	}
	return nil
}
