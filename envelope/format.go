package envelope

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/signature"
)

// ForMediaType returns the format for an envelope media type:
// application/jose+json or application/cose, matched exactly. Any other
// media type gives an error wrapping ErrUnsupportedFormat (DISC-4).
func ForMediaType(mediaType string) (Format, error) {
	switch mediaType {
	case signature.MediaTypeJWS:
		return jws.Format{}, nil
	case signature.MediaTypeCOSE:
		return cose.Format{}, nil
	}
	return nil, fmt.Errorf("%w: media type %q", ErrUnsupportedFormat, mediaType)
}

// ForSignatureFile returns the format of a blob signature file from its
// name (BLOB-2): the name must end in ".sig" and the dot-separated segment
// before it must be "jws" or "cose", both compared case-insensitively, as
// in "artifact.tar.jws.sig". Directories in name are ignored. Any other
// name gives an error wrapping ErrUnsupportedFormat.
func ForSignatureFile(name string) (Format, error) {
	base := filepath.Base(name)
	ext := filepath.Ext(base)
	if !strings.EqualFold(ext, ".sig") {
		return nil, fmt.Errorf("%w: signature file %q does not end in .sig", ErrUnsupportedFormat, base)
	}
	kind := strings.TrimPrefix(filepath.Ext(strings.TrimSuffix(base, ext)), ".")
	switch strings.ToLower(kind) {
	case "jws":
		return jws.Format{}, nil
	case "cose":
		return cose.Format{}, nil
	}
	return nil, fmt.Errorf("%w: signature file %q must end in .jws.sig or .cose.sig", ErrUnsupportedFormat, base)
}
