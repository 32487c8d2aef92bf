package config_test

import (
	"fmt"

	"github.com/signet-dev/signet/config"
)

func ExampleSigningKeys_Get() {
	keys := &config.SigningKeys{}
	_ = keys.Add(config.KeySuite{Name: "release", KeyPath: "/keys/release.key", CertificatePath: "/keys/release.crt"}, true)
	_ = keys.Add(config.KeySuite{Name: "hsm", ID: "key-1", PluginName: "com.example.hsm"}, false)

	k, _ := keys.Get("") // "" selects the default key
	fmt.Println(k.Name, k.IsPlugin())
	k, _ = keys.Get("hsm")
	fmt.Println(k.Name, k.IsPlugin())
	_, err := keys.Get("missing")
	fmt.Println(err)
	// Output:
	// release false
	// hsm true
	// signing key not found: "missing" (run "signet key list" to see the keys)
}
