#!/usr/bin/env bash
# install-peers.sh [BIN_DIR]: installs the peers signet's tests run against, and writes an env file
# naming them.
#
#   notation v1.3.2         the OCI peer; version pinned by tools/go.mod
#   notation v2.0.0-alpha.1 the blob peer; built from the source archive in the shared peers
#                           directory by its build-notation2.sh (the module proxy does not serve it)
#   registry v3.1.0         CNCF distribution; version pinned by tools/registry/go.mod
#   oras v1.3.6             the ORAS CLI (attach, discover, copy, OCI layouts); version pinned by
#                           tools/oras/go.mod (about a minute to build cold)
#   cosign v3.1.3           sigstore's signer, the peer of cosign signature verification; version
#                           pinned by tools/cosign/go.mod (about 2.5 minutes to build cold)
#   containerd v2.4.2       containerd + ctr with the CRI plugin, for the containerd image-verifier
#                           e2e test; built by scripts/install-containerd.sh into
#                           ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/containerd-v2.4.2/ (about 3 min cold)
#   kube-apiserver, kubectl v1.37.2 and etcd v3.6.16, for the admission webhook's e2e test
#                           (test/k8s); built by scripts/install-k8s.sh into
#                           ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/k8s-v1.37.2/ (about 10 min cold);
#                           SIGNET_WITH_K8S=0 skips them (the e2e test then skips, or fails in CI)
#   helm v4.3.2             renders and lints deploy/helm/signet-webhook for the e2e test's
#                           server-side dry-run; version pinned by tools/helm/go.mod (cold: 475 s of
#                           CPU, 1.1 GB peak RSS; 358 s after the kube-apiserver build filled GOCACHE)
#   apt packages            the system tools the tests use, when a command is missing (gcc,
#                           openssl, softhsm2, opensc)
#
# Each binary is built once into ${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/<name>-<version>/ and
# reused while that directory holds it, so a warm machine spends no time here. The script then writes
# ${SIGNET_PEERS}/env.sh, which exports SIGNET_NOTATION, SIGNET_NOTATION2, SIGNET_REGISTRY,
# SIGNET_ORAS, SIGNET_COSIGN, SIGNET_HELM, SIGNET_CONTAINERD_BIN (the directory holding containerd and
# ctr) and SIGNET_K8S_BIN (the directory holding kube-apiserver, kubectl and etcd); with BIN_DIR it
# also links notation, notation2, registry, oras, cosign and helm into BIN_DIR.
#
# The shared peers directory is $SIGNET_SHARED_PEERS, else <repo>/../shared/peers, else
# /work/shared/peers. Concurrent runs serialise on a lock in the cache directory.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}
BIN_DIR=${1:-}

NOTATION2_VERSION=v2.0.0-alpha.1
CONTAINERD_VERSION=v2.4.2
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16

log() { printf 'install-peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt_install CMD PACKAGE...: installs PACKAGE... with apt-get when CMD is not on PATH.
apt_install() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and there is no apt-get to install $*"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "$cmd is missing; installing $* needs root or sudo"
		sudo=(sudo)
	fi
	log "installing $* (for $cmd)"
	if [ -z "${APT_UPDATED:-}" ]; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		APT_UPDATED=1
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd is still missing after installing $*"
}

# build NAME VERSION BINARY COMMAND...: runs COMMAND... with $OUT set to a temporary path unless
# $PEERS/NAME-VERSION/BINARY already exists, then moves $OUT into place. Prints the binary's path.
build() {
	local name=$1 version=$2 binary=$3; shift 3
	local dir="$PEERS/$name-$version"
	local path="$dir/$binary"
	if [ -x "$path" ]; then
		log "$name $version: cached at $path"
	else
		log "$name $version: building"
		local start=$SECONDS
		mkdir -p "$dir"
		OUT="$dir/.$binary.building.$$"
		rm -f "$OUT"
		if ! "$@" >&2; then
			rm -f "$OUT"
			die "$name $version: build failed"
		fi
		mv -f "$OUT" "$path"
		log "$name $version: built in $((SECONDS - start))s"
	fi
	printf '%s\n' "$path"
}

# module_version DIR MODULE: the version of MODULE that DIR/go.mod requires. Read from the file, not
# with go list -m, which needs the module graph and so the network on a machine whose module cache
# is empty even when every peer is cached.
module_version() {
	local v
	v=$(awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod")
	[ -n "$v" ] || die "$1/go.mod does not require $2"
	printf '%s\n' "$v"
}

find_shared_peers() {
	local d
	for d in "${SIGNET_SHARED_PEERS:-}" "$REPO/../shared/peers" /work/shared/peers; do
		if [ -n "$d" ] && [ -f "$d/build-notation2.sh" ]; then
			(cd "$d" && pwd)
			return 0
		fi
	done
	die "no shared peers directory with build-notation2.sh: set SIGNET_SHARED_PEERS to the directory holding build-notation2.sh and notation-${NOTATION2_VERSION#v}-src.tar.gz (looked in \$SIGNET_SHARED_PEERS='${SIGNET_SHARED_PEERS:-}', $REPO/../shared/peers, /work/shared/peers)"
}

command -v go >/dev/null 2>&1 || die "go is not on PATH"

# System tools. gcc and the libc headers: cgo, which go test -race needs. openssl: test PKI, TSA and
# OCSP responders.
apt_install gcc gcc libc6-dev
apt_install openssl openssl
# SoftHSM2 and OpenSC's pkcs11-tool: the PKCS #11 token of the io.signet.pkcs11 plugin's tests
# (internal/testhsm). The plugin itself builds with the gcc above (cgo).
apt_install softhsm2-util softhsm2
apt_install pkcs11-tool opensc

mkdir -p "$PEERS"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$PEERS/.lock"
	flock 9
fi

notation_version=$(module_version "$REPO/tools" github.com/notaryproject/notation)
registry_version=$(module_version "$REPO/tools/registry" github.com/distribution/distribution/v3)
oras_version=$(module_version "$REPO/tools/oras" oras.land/oras)
cosign_version=$(module_version "$REPO/tools/cosign" github.com/sigstore/cosign/v3)
helm_version=$(module_version "$REPO/tools/helm" helm.sh/helm/v4)

build_notation() {
	(cd "$REPO/tools" && go build -trimpath -o "$OUT" github.com/notaryproject/notation/cmd/notation)
}
build_registry() {
	(cd "$REPO/tools/registry" && go build -trimpath -o "$OUT" github.com/distribution/distribution/v3/cmd/registry)
}
build_oras() {
	(cd "$REPO/tools/oras" && go build -trimpath -o "$OUT" oras.land/oras/cmd/oras)
}
build_cosign() {
	(cd "$REPO/tools/cosign" && go build -trimpath -o "$OUT" github.com/sigstore/cosign/v3/cmd/cosign)
}
build_helm() {
	# helm's version string is set by its Makefile's ldflags; without them it is its source default.
	(cd "$REPO/tools/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" -o "$OUT" helm.sh/helm/v4/cmd/helm)
}
build_notation2() {
	local shared
	shared=$(find_shared_peers)
	[ -f "$shared/notation-${NOTATION2_VERSION#v}-src.tar.gz" ] ||
		die "$shared has no notation-${NOTATION2_VERSION#v}-src.tar.gz"
	"$shared/build-notation2.sh" "$OUT"
}

notation=$(build notation "$notation_version" notation build_notation)
notation2=$(build notation "$NOTATION2_VERSION" notation build_notation2)
registry=$(build registry "$registry_version" registry build_registry)
oras=$(build oras "$oras_version" oras build_oras)
cosign=$(build cosign "$cosign_version" cosign build_cosign)
helm=$(build helm "$helm_version" helm build_helm)
containerd_bin=$("$REPO/scripts/install-containerd.sh" "$CONTAINERD_VERSION") || die "containerd $CONTAINERD_VERSION: install-containerd.sh failed"
# kube-apiserver, kubectl and etcd for the admission webhook's end-to-end test (install-k8s.sh:
# about 10 min of CPU cold, nothing warm), in a sibling directory keyed by the Kubernetes version.
# SIGNET_WITH_K8S=0 skips them on a machine that will not run that test.
k8s_bin=
if [ "${SIGNET_WITH_K8S:-1}" != 0 ]; then
	k8s_bin=$(SIGNET_CI_CACHE=${SIGNET_CI_CACHE:-$(dirname "$PEERS")} K8S_VERSION=$K8S_VERSION ETCD_VERSION=$ETCD_VERSION \
		"$REPO/scripts/install-k8s.sh") || die "kube-apiserver/etcd: install-k8s.sh failed"
fi

env_file="$PEERS/env.sh"
{
	printf '# written by scripts/install-peers.sh\n'
	printf 'export SIGNET_NOTATION=%q\n' "$notation"
	printf 'export SIGNET_NOTATION2=%q\n' "$notation2"
	printf 'export SIGNET_REGISTRY=%q\n' "$registry"
	printf 'export SIGNET_ORAS=%q\n' "$oras"
	printf 'export SIGNET_COSIGN=%q\n' "$cosign"
	printf 'export SIGNET_HELM=%q\n' "$helm"
	printf 'export SIGNET_CONTAINERD_BIN=%q\n' "$containerd_bin"
	printf 'export SIGNET_K8S_BIN=%q\n' "$k8s_bin"
} >"$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"

if [ -n "$BIN_DIR" ]; then
	mkdir -p "$BIN_DIR"
	ln -sfn "$notation" "$BIN_DIR/notation"
	ln -sfn "$notation2" "$BIN_DIR/notation2"
	ln -sfn "$registry" "$BIN_DIR/registry"
	ln -sfn "$oras" "$BIN_DIR/oras"
	ln -sfn "$cosign" "$BIN_DIR/cosign"
	ln -sfn "$helm" "$BIN_DIR/helm"
	log "linked notation, notation2, registry, oras, cosign and helm into $BIN_DIR"
fi

log "wrote $env_file"
cat "$env_file"
