#!/usr/bin/env bash
# install-containerd.sh [VERSION]: builds containerd (with the CRI plugin) and ctr from the Go module
# proxy, for the containerd image-verifier e2e test (cmd/signet-containerd-verifier).
#
# The binaries go to ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/containerd-VERSION/{containerd,ctr},
# built once: a directory already holding both is reused. The build writes a temporary sibling
# directory and renames it into place, so an interrupted build never leaves a half-filled directory.
# Prints the directory. VERSION defaults to v2.4.2.
#
# Tags: no_btrfs (skips the cgo btrfs headers), no_devmapper, no_zfs. The CRI plugin is kept: the
# e2e test pulls through CRI PullImage as the kubelet does. Cold cost on 2 cores: about 3 min
# (see docs/containerd.md). containerd v2.4.2 needs Go >= 1.26.6.
set -euo pipefail

VERSION=${1:-v2.4.2}
CACHE=${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}
DIR="$CACHE/containerd-$VERSION"
TAGS=no_btrfs,no_devmapper,no_zfs

log() { printf 'install-containerd: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
	exec 8>"$CACHE/.containerd.lock"
	flock 8
fi

if [ -x "$DIR/containerd" ] && [ -x "$DIR/ctr" ]; then
	log "containerd $VERSION: cached at $DIR"
	printf '%s\n' "$DIR"
	exit 0
fi

log "containerd $VERSION: building containerd and ctr (tags $TAGS)"
start=$SECONDS
tmp="$CACHE/.containerd-$VERSION.building.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# GOBIN + module@version: a build outside any main module, as go install documents; containerd's
# go.mod has no replace directives, so this is all it takes. GOFLAGS is cleared of -mod settings
# that would apply to the caller's module.
if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false go install -trimpath -tags "$TAGS" -ldflags "-s -w" \
	"github.com/containerd/containerd/v2/cmd/containerd@$VERSION" \
	"github.com/containerd/containerd/v2/cmd/ctr@$VERSION" >&2; then
	die "containerd $VERSION: build failed"
fi
[ -x "$tmp/containerd" ] && [ -x "$tmp/ctr" ] || die "containerd $VERSION: build left no binaries in $tmp"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
log "containerd $VERSION: built in $((SECONDS - start))s into $DIR"
printf '%s\n' "$DIR"
