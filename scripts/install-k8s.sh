#!/usr/bin/env bash
# install-k8s.sh: builds the Kubernetes control plane signet's admission-webhook e2e tests run
# against, from the Go module proxy (no prebuilt downloads are reachable here):
#
#   kube-apiserver, kubectl  k8s.io/kubernetes $K8S_VERSION (default v1.37.2)
#   etcd                     go.etcd.io/etcd/server/v3 $ETCD_VERSION (default v3.6.16)
#
# k8s.io/kubernetes and etcd's server module carry replace directives, so `go install pkg@version`
# refuses them. Instead a scratch main module requires them, maps each k8s.io staging module
# (k8s.io/api, k8s.io/client-go, ...) to its published v0.X.Y twin with replace directives, and
# builds with `go build`.
#
# The binaries go into ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/k8s-$K8S_VERSION/ (keyed by
# version; etcd's version is recorded in .etcd.version next to it). A binary already there is kept,
# so a warm machine spends no time here; a new one is built under a temporary name and moved into
# place, so an interrupted build leaves nothing half-written. Cold cost on 2 cores: about 10 min of
# CPU, 2.4 GB peak RSS, ~3 GB of GOCACHE. Prints the directory on stdout.
set -euo pipefail

K=${K8S_VERSION:-v1.37.2}
E=${ETCD_VERSION:-v3.6.16}
S=v0.${K#v1.}                       # staging twin: v1.37.2 -> v0.37.2
MINOR=$(echo "$K" | cut -d. -f2)
OUT=${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/k8s-$K

log() { printf 'install-k8s: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v go >/dev/null 2>&1 || die "go is not on PATH"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if command -v flock >/dev/null 2>&1; then
	exec 8>"$OUT/.lock"
	flock 8
fi
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
W=$(mktemp -d)
trap 'rm -rf "$W"; rm -rf "$OUT"/.building.$$' EXIT

need=()
for b in kube-apiserver kubectl; do
	if [ -x "$OUT/$b" ]; then
		log "$b $K: cached at $OUT/$b"
	else
		need+=("$b")
	fi
done
if [ ${#need[@]} -gt 0 ]; then
	start=$SECONDS
	log "building ${need[*]} $K (about 10 min cold on 2 cores)"
	mkdir "$W/k8s"
	(
		cd "$W/k8s"
		KDIR=$(go mod download -json "k8s.io/kubernetes@$K" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[ -n "$KDIR" ] || die "go mod download k8s.io/kubernetes@$K gave no directory"
		GOV=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$KDIR/go.mod")
		{
			printf 'module k8sbins\n\ngo %s\n\nreplace (\n' "$GOV"
			sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$S"'#p' "$KDIR/go.mod"
			echo ')'
		} >go.mod
		pkgs=()
		for b in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
		go get -tool $(printf '%s@'"$K"' ' "${pkgs[@]}")
		LDF="-s -w -X k8s.io/component-base/version.gitVersion=$K -X k8s.io/component-base/version.gitMajor=1"
		LDF="$LDF -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/component-base/version.gitTreeState=clean"
		LDF="$LDF -X k8s.io/client-go/pkg/version.gitVersion=$K"
		mkdir -p "$OUT/.building.$$"
		go build -trimpath -ldflags "$LDF" -o "$OUT/.building.$$/" "${pkgs[@]}"
	) || die "building ${need[*]} $K failed"
	for b in "${need[@]}"; do mv -f "$OUT/.building.$$/$b" "$OUT/$b"; done
	log "built ${need[*]} $K in $((SECONDS - start))s"
fi

if [ -x "$OUT/etcd" ] && [ "$(cat "$OUT/.etcd.version" 2>/dev/null)" = "$E" ]; then
	log "etcd $E: cached at $OUT/etcd"
else
	start=$SECONDS
	log "building etcd $E"
	mkdir "$W/etcd" "$OUT/.building.$$" 2>/dev/null || mkdir -p "$W/etcd" "$OUT/.building.$$"
	(
		cd "$W/etcd"
		printf 'module etcdbin\n\ngo 1.24\n' >go.mod
		go get -tool "go.etcd.io/etcd/server/v3@$E"
		go build -trimpath -ldflags '-s -w' -o "$OUT/.building.$$/etcd" go.etcd.io/etcd/server/v3
	) || die "building etcd $E failed"
	mv -f "$OUT/.building.$$/etcd" "$OUT/etcd"
	echo "$E" >"$OUT/.etcd.version.tmp" && mv -f "$OUT/.etcd.version.tmp" "$OUT/.etcd.version"
	log "built etcd $E in $((SECONDS - start))s"
fi
printf '%s\n' "$OUT"
