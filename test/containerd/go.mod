module github.com/signet-dev/signet/test/containerd

go 1.26.8

require (
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
	github.com/signet-dev/signet v0.0.0
	google.golang.org/grpc v1.85.0
	k8s.io/cri-api v0.37.2
	oras.land/oras-go/v2 v2.7.0
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/google/go-containerregistry v0.22.1 // indirect
	github.com/smallstep/pkcs7 v0.2.3 // indirect
	github.com/veraison/go-cose v1.3.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/signet-dev/signet => ../..
