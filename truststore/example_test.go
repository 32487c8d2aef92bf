package truststore_test

import (
	"fmt"

	"github.com/signet-dev/signet/truststore"
)

func ExampleValidateName() {
	for _, name := range []string{"wabbit-networks.io", "..", "../ca/other", "my store"} {
		fmt.Println(name, truststore.ValidateName(name) == nil)
	}
	// Output:
	// wabbit-networks.io true
	// .. false
	// ../ca/other false
	// my store false
}
