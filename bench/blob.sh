#!/usr/bin/env bash
# bench/blob.sh [SIZE_MIB]: blob sign and verify of one large file (default 1024 MiB) by signet,
# against `openssl dgst -sha256` and `sha256sum` of the same file, and notation v2.0.0-alpha.1's
# blob sign and verify when it is installed (scripts/install-peers.sh). Each command runs RUNS
# times (default 3); the table gives the best wall time, the throughput, and the peak RSS
# (GNU time %M). Keys: RSA-2048 (SHA-256, the digest openssl and sha256sum compute).
# The file sits in the page cache (it is read once before timing), so this measures hashing,
# not the disk.
set -euo pipefail
SIZE_MIB=${1:-1024}
RUNS=${RUNS:-3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SIGNET_CONFIG="$WORK/signet-config"

(cd "$REPO" && go build -o "$WORK/signet" ./cmd/signet)
S="$WORK/signet"
"$S" cert generate-test --default bench >/dev/null
"$S" blob policy init --name bench --global --trust-store ca:bench --trusted-identity "*" >/dev/null
BLOB="$WORK/blob.bin"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$BLOB"
cat "$BLOB" >/dev/null

N2=${SIGNET_NOTATION2:-}
if [ -z "$N2" ] && [ -f "${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/env.sh" ]; then
	# shellcheck source=/dev/null
	. "${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/env.sh"
	N2=${SIGNET_NOTATION2:-}
fi
if [ -n "$N2" ]; then
	export XDG_CONFIG_HOME="$WORK/xdg"
	"$N2" cert generate-test --default bench >/dev/null
	"$N2" blob policy init --name bench --global --trust-store ca:bench --trusted-identity "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=bench" >/dev/null
	mkdir -p "$WORK/n2"
fi

# measure NAME CMD...: best of RUNS wall seconds and the peak RSS of that run.
measure() {
	local name=$1; shift
	local best="" rss="" i out t m
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -o "$WORK/time" -f '%e %M' "$@" >/dev/null 2>&1 || { echo "$name failed" >&2; return 1; }
		out=$(tail -1 "$WORK/time")
		t=${out% *}; m=${out#* }
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
	done
	awk -v n="$name" -v t="$best" -v m="$rss" -v mib="$SIZE_MIB" \
		'BEGIN{printf "| %-34s | %6.2f s | %7.0f MiB/s | %6.1f MiB |\n", n, t, (t>0? mib/t : 0), m/1024}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
echo "file: $SIZE_MIB MiB, best of $RUNS runs"
echo
echo "| command | wall | throughput | peak RSS |"
echo "|---|---|---|---|"
measure "openssl dgst -sha256" openssl dgst -sha256 "$BLOB"
measure "sha256sum" sha256sum "$BLOB"
measure "signet blob sign (jws)" "$S" blob sign --force --signature-directory "$WORK" "$BLOB"
measure "signet blob verify (jws)" "$S" blob verify --signature "$BLOB.jws.sig" "$BLOB"
measure "signet blob sign (cose)" "$S" blob sign --force --signature-directory "$WORK" --signature-format cose "$BLOB"
measure "signet blob verify (cose)" "$S" blob verify --signature "$BLOB.cose.sig" "$BLOB"
if [ -n "$N2" ]; then
	measure "notation v2.0.0-alpha.1 blob sign" "$N2" blob sign --force --signature-directory "$WORK/n2" "$BLOB"
	measure "notation v2.0.0-alpha.1 blob verify" "$N2" blob verify --signature "$WORK/n2/blob.bin.jws.sig" "$BLOB"
fi
