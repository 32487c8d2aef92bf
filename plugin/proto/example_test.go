package proto_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signet-dev/signet/plugin/proto"
)

// A plugin decodes its request with Decode and, when it is invalid, writes
// the returned error to stderr as its error response.
func ExampleDecode() {
	stdin := []byte(`{"contractVersion":"1.0","keyId":"","pluginConfig":{"region":"eu"}}`)
	var req proto.DescribeKeyRequest
	err := proto.Decode(stdin, &req)
	var perr *proto.Error
	if errors.As(err, &perr) {
		stderr, _ := json.Marshal(perr)
		fmt.Println(string(stderr))
	}

	stdin = []byte(`{"contractVersion":"2.0","keyId":"k"}`)
	fmt.Println(proto.Decode(stdin, &req))
	// Output:
	// {"errorCode":"VALIDATION_ERROR","errorMessage":"keyId cannot be empty"}
	// UNSUPPORTED_CONTRACT_VERSION: "2.0" is not a supported plugin contract version (supported: 1.0)
}
