//go:build !cgo

package main

import (
	"strings"
	"testing"

	"github.com/signet-dev/signet/plugin/proto"
)

// TestNoCgo: a build without cgo describes itself but refuses keys with a
// message that says why.
func TestNoCgo(t *testing.T) {
	perr := call(t, "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: testURI("")}, nil, nil, openToken)
	if perr == nil || perr.Code != proto.ErrorCodeGeneric || !strings.Contains(perr.Message, "CGO_ENABLED=0") {
		t.Errorf("got %v", perr)
	}
}
