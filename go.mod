module github.com/signet-dev/signet

go 1.26.8

require (
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/google/go-containerregistry v0.22.1
	github.com/miekg/pkcs11 v1.1.2
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
	github.com/smallstep/pkcs7 v0.2.3
	github.com/spf13/cobra v1.10.2
	github.com/veraison/go-cose v1.3.0
	golang.org/x/crypto v0.59.0
	golang.org/x/mod v0.43.0
	oras.land/oras-go/v2 v2.7.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
