//go:build !cgo

package main

import (
	"context"

	"github.com/signet-dev/signet/plugin/proto"
)

// openToken of a build without cgo: PKCS #11 modules are C libraries, so
// this build can describe itself but not open a token.
func openToken(context.Context, *keyRef) (tokenKey, error) {
	return nil, &proto.Error{Code: proto.ErrorCodeGeneric,
		Message: "this build of " + Name + " has no PKCS #11 support: it was built with CGO_ENABLED=0; rebuild it with cgo"}
}
