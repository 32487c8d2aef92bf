#!/usr/bin/env bash
# blob-quickstart.sh: a blob sign-and-verify walk-through, needing nothing but Go: build signet,
# make a throw-away configuration directory with a test key, write a blob trust policy, sign a
# file and verify it, then show that a changed file is refused. Nothing outside a temporary
# directory is touched.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SIGNET_CONFIG="$WORK/config"

echo "==> go build -o $WORK/signet ./cmd/signet"
(cd "$REPO" && go build -o "$WORK/signet" ./cmd/signet)
signet() { echo "+ signet $*"; "$WORK/signet" "$@"; }

signet cert generate-test --default demo
signet blob policy init --name demo --global --trust-store ca:demo \
	--trusted-identity "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=demo"
echo "hello, signet" > "$WORK/hello.txt"
signet blob sign --signature-directory "$WORK" --media-type text/plain -m team=demo -e 24h "$WORK/hello.txt"
signet blob verify --signature "$WORK/hello.txt.jws.sig" --media-type text/plain -m team=demo "$WORK/hello.txt"
signet blob inspect "$WORK/hello.txt.jws.sig"

echo "==> a changed file must be refused (exit code 1):"
echo "tampered" >> "$WORK/hello.txt"
set +e
"$WORK/signet" blob verify --signature "$WORK/hello.txt.jws.sig" "$WORK/hello.txt"
code=$?
set -e
if [ "$code" -ne 1 ]; then
	echo "quickstart: expected exit code 1 for a changed file, got $code" >&2
	exit 1
fi
echo "==> quickstart passed: signed, verified, and refused a changed file"
