package trustpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// The cosign members of the signet/v1 extension (docs/cosign.md): a
// statement may name "publickey:<name>" stores in trustStores, which trust
// cosign key-based signatures only, and say how their transparency log
// entries are checked.

// Values of a statement's transparencyLog.
const (
	// TlogRequire: a cosign signature must carry a transparency log entry
	// that verifies against rekorTrustStores.
	TlogRequire = "require"
	// TlogVerify, the default: an entry the signature carries must verify;
	// a signature without one is accepted.
	TlogVerify = "verify"
	// TlogSkip: entries are not looked at.
	TlogSkip = "skip"
)

// TransparencyLogMode returns the statement's transparencyLog, or
// TlogVerify when it is not set.
func (s *Statement) TransparencyLogMode() string {
	if s.TransparencyLog == "" {
		return TlogVerify
	}
	return s.TransparencyLog
}

// RekorStores returns the names of the rekorTrustStores, without
// duplicates, in listed order.
func (s *Statement) RekorStores() []string {
	var out []string
	for _, e := range s.RekorTrustStores {
		typ, name, ok := strings.Cut(e, ":")
		if ok && typ == StorePublicKey && name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// TrustsCosign reports whether the statement names a publickey store, and
// so whether cosign signatures are looked for.
func (s *Statement) TrustsCosign() bool { return len(s.StoresOfType(StorePublicKey)) > 0 }

// validateCosign checks the cosign members of a signet/v1 statement.
func (s *Statement) validateCosign(r reporter) {
	keyStores := s.TrustsCosign()
	if keyStores && !(len(s.TrustedIdentities) == 1 && s.TrustedIdentities[0] == Wildcard) {
		r.add("trustedIdentities", "a statement naming a publickey trust store must have trustedIdentities [\"*\"]: a public key has no identity")
	}
	switch s.TransparencyLog {
	case "", TlogRequire, TlogVerify, TlogSkip:
	default:
		r.add("transparencyLog", fmt.Sprintf("transparencyLog %q is not one of %q, %q or %q", s.TransparencyLog, TlogRequire, TlogVerify, TlogSkip))
	}
	if !keyStores {
		if s.TransparencyLog != "" {
			r.add("transparencyLog", "transparencyLog applies to cosign signatures: the statement names no publickey trust store")
		}
		if len(s.RekorTrustStores) > 0 {
			r.add("rekorTrustStores", "rekorTrustStores apply to cosign signatures: the statement names no publickey trust store")
		}
	}
	for _, e := range s.RekorTrustStores {
		typ, name, ok := strings.Cut(e, ":")
		switch {
		case !ok || typ != StorePublicKey:
			r.add("rekorTrustStores", fmt.Sprintf("entry %q is not of the form publickey:<name>", e))
		case !validStoreName(name):
			r.add("rekorTrustStores", fmt.Sprintf("entry %q has invalid store name %q; a name matches [a-zA-Z0-9_.-]+", e, name))
		}
	}
	if s.TransparencyLog == TlogRequire && len(s.RekorTrustStores) == 0 {
		r.add("rekorTrustStores", "transparencyLog \"require\" needs rekorTrustStores naming the publickey stores of the Rekor log keys")
	}
	for i, c := range s.CounterSignatures {
		for _, e := range c.TrustStores {
			if typ, _, _ := strings.Cut(e, ":"); typ == StorePublicKey {
				r.add(fmt.Sprintf("counterSignatures[%d].trustStores", i), fmt.Sprintf("entry %q: counter-signatures are Notary Project signatures; publickey stores cannot authenticate them", e))
			}
		}
	}
}

// refuseCosign reports the cosign members in a document that does not
// support them ("1.0" OCI and blob documents).
func (s *Statement) refuseCosign(r reporter, why string) {
	for _, e := range s.TrustStores {
		if typ, _, _ := strings.Cut(e, ":"); typ == StorePublicKey {
			r.add("trustStores", fmt.Sprintf("entry %q is not allowed: %s", e, why))
		}
	}
	if s.TransparencyLog != "" {
		r.add("transparencyLog", "transparencyLog is not allowed: "+why)
	}
	if len(s.RekorTrustStores) > 0 {
		r.add("rekorTrustStores", "rekorTrustStores is not allowed: "+why)
	}
}

// cosignMembers lists the statement's cosign extension members for
// ExtensionMembers.
func (s *Statement) cosignMembers() []ExtensionMember {
	var out []ExtensionMember
	for i, e := range s.TrustStores {
		if typ, name, _ := strings.Cut(e, ":"); typ == StorePublicKey {
			out = append(out, ExtensionMember{Statement: s.Name, Member: fmt.Sprintf("trustStores[%d]", i), Value: e,
				Meaning: "cosign signatures by a key in publickey store " + name})
		}
	}
	if s.TransparencyLog != "" {
		out = append(out, ExtensionMember{Statement: s.Name, Member: "transparencyLog", Value: s.TransparencyLog,
			Meaning: "transparency log entries of cosign signatures: " + s.TransparencyLog})
	}
	if len(s.RekorTrustStores) > 0 {
		out = append(out, ExtensionMember{Statement: s.Name, Member: "rekorTrustStores", Value: strings.Join(s.RekorTrustStores, ", "),
			Meaning: "Rekor log keys that transparency log entries are checked against"})
	}
	return out
}
