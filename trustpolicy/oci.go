package trustpolicy

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Scope syntax (TP-7): a scope is <registry>/<repository>, split at the
// first '/'. validRegistry and validRepository spell out, by hand, the
// regular expressions
//
//	registry:   ^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$
//	repository: ^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$
//
// (the tests hold them as the oracle): compiling them cost every signet
// process about 0.4 million CPU instructions at start-up
// (docs/benchmarks.md).

// validRegistry reports whether s is a registry: dot-separated DNS labels
// (letters, digits, and hyphens not at either end), then optionally ':'
// and a port of digits.
func validRegistry(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort && (port == "" || strings.Trim(port, "0123456789") != "") {
		return false
	}
	for {
		label, rest, more := strings.Cut(host, ".")
		if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
			return false
		}
		for i := 1; i < len(label)-1; i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return false
			}
		}
		if !more {
			return true
		}
		host = rest
	}
}

// validRepository reports whether s is a repository path: '/'-separated
// components, each runs of lowercase letters and digits joined by '.',
// '_', "__" or any number of '-'.
func validRepository(s string) bool {
	for {
		component, rest, more := strings.Cut(s, "/")
		if !validComponent(component) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

func validComponent(c string) bool {
	i := 0
	for {
		// A run of [a-z0-9]+.
		start := i
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(c) {
			return true
		}
		// A separator: '.', '_', "__" or '-'+.
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isAlnum(c byte) bool { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// validStoreName reports whether s matches a named store's syntax (TS-6),
// ^[a-zA-Z0-9_.-]+$.
func validStoreName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// Document is an OCI trust policy (trustpolicy.oci.json). A Document
// returned by ParseOCI, LoadOCI or InitOCI is valid; one built by hand
// should be checked with Validate before use. Its methods only read it.
type Document struct {
	Version       string      `json:"version"`
	TrustPolicies []Statement `json:"trustPolicies"`
}

// ParseOCI reads at most MaxPolicyBytes from r, decodes an OCI trust policy
// ("1.0", or the "signet/v1" extension) and validates it. Unknown members,
// including a blob statement's globalPolicy, are ignored (TP-13); the
// extension members are refused in a "1.0" document. Every error wraps ErrInvalidPolicy
// except a read error from r.
func ParseOCI(r io.Reader) (*Document, error) {
	var d Document
	if err := decode(r, &d); err != nil {
		return nil, err
	}
	for i := range d.TrustPolicies {
		d.TrustPolicies[i].GlobalPolicy = false // not an OCI member
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks every rule of §5.2, §5.4 and §5.6, and for a "signet/v1"
// document the extension's rules (extension.go), and returns nil or the
// errors.Join of one *PolicyError per violation.
func (d *Document) Validate() error {
	if d == nil {
		return &PolicyError{Msg: "document is nil"}
	}
	var errs []error
	validateHeader(d.Version, len(d.TrustPolicies), true, &errs)
	ext := d.Extended()
	validateNames(d.TrustPolicies, &errs)
	scopeOwner := map[string]string{} // scope -> first statement listing it
	globals := 0
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		r := newReporter(&errs, s, i)
		s.validateCommon(r)
		s.validateExtensions(r, ext)
		if s.GlobalPolicy {
			r.add("globalPolicy", "globalPolicy belongs to blob trust policies only")
		}
		const field = "registryScopes"
		if len(s.RegistryScopes) == 0 {
			r.add(field, "registry scopes are missing; list repositories or the global scope \"*\"")
			continue
		}
		if slices.Contains(s.RegistryScopes, Wildcard) {
			if len(s.RegistryScopes) > 1 {
				r.add(field, "the global scope \"*\" cannot be combined with other scopes")
			}
			if globals++; globals == 2 {
				r.add(field, "only one statement may use the global scope \"*\"")
			}
			if s.IsSkip() {
				// TP-12 follows the specification: skip cannot be used with
				// the global scope. The reference accepts it for OCI
				// policies (digest §10 item 9).
				r.add("signatureVerification.level", "level skip cannot be used with the global scope \"*\"")
			}
		}
		listed := map[string]bool{}
		for _, sc := range s.RegistryScopes {
			if sc == Wildcard {
				continue
			}
			if IsPrefixScope(sc) && !ext {
				r.add(field, fmt.Sprintf("prefix scope %q is a signet extension: set \"version\" to %q (notation then refuses the document)", sc, ExtensionVersion))
				continue
			}
			check := validateScope
			if IsPrefixScope(sc) {
				check = validatePrefixScope
			}
			if err := check(sc); err != nil {
				r.add(field, err.Error())
				continue
			}
			if listed[sc] {
				r.add(field, fmt.Sprintf("scope %q is listed more than once", sc))
				continue
			}
			listed[sc] = true
			if owner, ok := scopeOwner[sc]; ok {
				r.add(field, fmt.Sprintf("scope %q is also listed by statement %q; a repository may have only one applicable statement", sc, owner))
				continue
			}
			scopeOwner[sc] = s.Name
		}
	}
	return errors.Join(errs...)
}

// validateScope checks TP-4, TP-6 and TP-7 for one non-global, non-prefix
// scope.
func validateScope(sc string) error {
	if strings.Contains(sc, Wildcard) {
		return fmt.Errorf("scope %q contains \"*\"; only the single global scope \"*\" may", sc)
	}
	reg, repo, ok := strings.Cut(sc, "/")
	if !ok || !validRegistry(reg) || !validRepository(repo) {
		return fmt.Errorf("scope %q is not a fully qualified repository <registry>/<repository> without tag or digest", sc)
	}
	return nil
}

// Match selects the statement for an artifact in repository, the
// "<registry>/<repository>" part of its reference (SEL-1): the statement
// listing repository exactly, else (signet/v1) the one with the longest
// prefix scope matching it, else the global statement, else an error
// wrapping ErrNoApplicablePolicy (SEL-2). Comparison is literal (SEL-3),
// for prefixes too: "reg.example/team/*" matches "reg.example/team/a/b" and
// not "reg.example/team" nor "reg.example/teams/a".
func (d *Document) Match(repository string) (*Statement, error) {
	if repository == "" || strings.Contains(repository, Wildcard) {
		return nil, fmt.Errorf("%w: invalid repository %q", ErrNoApplicablePolicy, repository)
	}
	var global, prefix *Statement
	longest := 0
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		for _, sc := range s.RegistryScopes {
			switch {
			case sc == repository:
				return s, nil
			case sc == Wildcard:
				if global == nil {
					global = s
				}
			case IsPrefixScope(sc):
				p := prefixOf(sc)
				if len(p) > longest && strings.HasPrefix(repository, p) {
					prefix, longest = s, len(p)
				}
			}
		}
	}
	if prefix != nil {
		return prefix, nil
	}
	if global != nil {
		return global, nil
	}
	return nil, fmt.Errorf("%w for repository %q", ErrNoApplicablePolicy, repository)
}

// Marshal renders the document as indented JSON.
func (d *Document) Marshal() ([]byte, error) { return marshal(d) }

// InitOCI builds a one-statement OCI policy at level strict (the
// `policy init` command) and validates it. The slices are copied.
func InitOCI(name string, scopes, stores, identities []string) (*Document, error) {
	d := &Document{
		Version: SupportedVersion,
		TrustPolicies: []Statement{{
			Name:                  name,
			RegistryScopes:        slices.Clone(scopes),
			SignatureVerification: SignatureVerification{Level: LevelStrict},
			TrustStores:           slices.Clone(stores),
			TrustedIdentities:     slices.Clone(identities),
		}},
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
