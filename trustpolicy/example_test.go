package trustpolicy_test

import (
	"fmt"
	"strings"

	"github.com/signet-dev/signet/trustpolicy"
)

func ExampleDocument_Match() {
	doc, err := trustpolicy.ParseOCI(strings.NewReader(`{
  "version": "1.0",
  "trustPolicies": [{
    "name": "net-monitor",
    "registryScopes": ["registry.acme-rockets.io/software/net-monitor"],
    "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
    "trustStores": ["ca:acme-rockets", "tsa:public-tsa"],
    "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme-rockets.io"]
  }]
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := doc.Match("registry.acme-rockets.io/software/net-monitor")
	if err != nil {
		fmt.Println(err)
		return
	}
	actions := s.Actions()
	for _, t := range trustpolicy.ValidationTypes {
		fmt.Printf("%s: %s\n", t, actions[t])
	}
	fmt.Println("tsa stores:", s.StoresOfType(trustpolicy.StoreTSA))

	_, err = doc.Match("registry.acme-rockets.io/software/other")
	fmt.Println(err)
	// Output:
	// integrity: enforce
	// authenticity: enforce
	// authenticTimestamp: enforce
	// expiry: enforce
	// revocation: skip
	// tsa stores: [public-tsa]
	// no applicable trust policy statement for repository "registry.acme-rockets.io/software/other"
}

func ExampleDocument_Validate() {
	doc := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.Statement{{
			Name:                  "everything",
			RegistryScopes:        []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{Level: "skip"},
		}},
	}
	fmt.Println(doc.Validate())
	// Output:
	// trust policy statement "everything": signatureVerification.level: level skip cannot be used with the global scope "*"
}
