#!/usr/bin/env bash
# test.sh: signet's one test command; CI runs exactly this (.ci/run).
#
#   1. scripts/install-peers.sh, then source the env.sh it writes; SIGNET_REQUIRE_PEERS=1, so a
#      test that needs a missing peer fails instead of skipping
#   2. go vet ./...
#   3. gofmt -l: no file may need formatting (testdata excluded)
#   4. go test -race -count=1 -timeout $SIGNET_TEST_TIMEOUT ./... (default 20m per package binary:
#      a safety net for a loaded CI machine: the whole step took 4 min in a quiet CI run, and one
#      package once needed more than go test's default 10m under load)
#   5. `go run ./cmd/signet quickstart`, the README's first set-up command, and the blob
#      walk-through scripts/blob-quickstart.sh, so both keep working
#   6. every fuzz target (go test -list '^Fuzz'), each for $SIGNET_FUZZTIME (default 10s)
#   7. the same vet and test steps in each further module (a go.mod below the root, not under
#      tools/, which holds only pinned tool builds)
#
# Every step runs even when an earlier one failed, except that a failed peer install stops the
# run; the exit status is non-zero when any step failed. Each step prints its duration, and a
# summary follows at the end.
#
# Environment: SIGNET_PEERS (peer cache, default $HOME/.cache/signet-ci/peers), SIGNET_FUZZTIME
# (a go test -fuzztime value), SIGNET_TEST_TIMEOUT (a go test -timeout value, default 20m).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
FUZZTIME=${SIGNET_FUZZTIME:-10s}
TEST_TIMEOUT=${SIGNET_TEST_TIMEOUT:-20m}

summary=()
failed=0
run_start=$SECONDS

# step NAME COMMAND...: runs COMMAND..., prints its duration and records the result.
step() {
	local name=$1; shift
	local start=$SECONDS status
	printf '\n==> %s\n' "$name"
	"$@"
	status=$?
	local took=$((SECONDS - start))
	if [ "$status" -eq 0 ]; then
		printf '<== %s: ok (%ds)\n' "$name" "$took"
		summary+=("$(printf 'ok    %5ds  %s' "$took" "$name")")
	else
		printf '<== %s: FAILED, status %d (%ds)\n' "$name" "$status" "$took"
		summary+=("$(printf 'FAIL  %5ds  %s' "$took" "$name")")
		failed=1
	fi
	return "$status"
}

finish() {
	printf '\n==> summary (%ds in all)\n' "$((SECONDS - run_start))"
	printf '%s\n' "${summary[@]}"
	exit "$failed"
}

install_peers() {
	scripts/install-peers.sh || return
	# shellcheck source=/dev/null
	. "${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/env.sh"
}

gofmt_clean() {
	local files
	files=$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0r gofmt -l) || return
	if [ -n "$files" ]; then
		printf 'gofmt -w these files:\n%s\n' "$files"
		return 1
	fi
}

# fuzz_all: lists the fuzz targets of every package in the module in the current directory, then
# fuzzes each for $FUZZTIME.
fuzz_all() {
	local listing status=0 line pkg name
	local -a names=() targets=()
	# go test -list prints a package's matching names, then its "ok <tab> package" line.
	listing=$(go test -list '^Fuzz' ./... 2>&1) || {
		printf '%s\n' "$listing"
		printf 'listing fuzz targets failed; fuzzing the packages that built\n'
		status=1
	}
	while IFS= read -r line; do
		case $line in
		Fuzz*) names+=("$line") ;;
		ok*)
			pkg=$(printf '%s\n' "$line" | awk '{print $2}')
			for name in "${names[@]}"; do targets+=("$pkg $name"); done
			names=()
			;;
		*) names=() ;;
		esac
	done <<<"$listing"
	printf '%d fuzz targets, %s each\n' "${#targets[@]}" "$FUZZTIME"
	local target start out
	out=$(mktemp) || return
	for target in "${targets[@]}"; do
		read -r pkg name <<<"$target"
		start=$SECONDS
		if fuzz_one "$pkg" "$name" "$out"; then
			printf '  ok    %3ds  %s %s\n' "$((SECONDS - start))" "$pkg" "$name"
		else
			cat "$out"
			printf '  FAIL  %3ds  %s %s\n' "$((SECONDS - start))" "$pkg" "$name"
			status=1
		fi
	done
	rm -f "$out"
	return "$status"
}

# fuzz_one PKG NAME OUT: fuzzes one target for $FUZZTIME, output in OUT. Go's fuzzing coordinator
# sometimes ends a run that found nothing with "context deadline exceeded" when the time is up
# while a worker is busy (no failing input is written then); such a run is tried again (up to three
# runs in all: seen about once per CI run over ~30 targets). A run
# that wrote a failing input is a real failure and is not retried.
fuzz_one() {
	local pkg=$1 name=$2 out=$3 try
	for try in 1 2 3; do
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >"$out" 2>&1; then
			return 0
		fi
		if grep -q 'Failing input written' "$out" || ! grep -q 'context deadline exceeded' "$out"; then
			return 1
		fi
		printf '  (retry %s %s: the fuzzing coordinator timed out without a failing input)\n' "$pkg" "$name"
	done
	return 1
}

# in_dir DIR COMMAND...: runs COMMAND... in DIR.
in_dir() {
	local dir=$1; shift
	(cd "$dir" && "$@")
}

printf 'go: %s\n' "$(go version)"
if ! step "install peers" install_peers; then
	finish
fi
export SIGNET_REQUIRE_PEERS=1
printf 'SIGNET_NOTATION=%s\nSIGNET_NOTATION2=%s\nSIGNET_REGISTRY=%s\nSIGNET_K8S_BIN=%s\nSIGNET_HELM=%s\n' \
	"$SIGNET_NOTATION" "$SIGNET_NOTATION2" "$SIGNET_REGISTRY" "${SIGNET_K8S_BIN:-}" "${SIGNET_HELM:-}"

step "go vet ./..." go vet ./...
step "gofmt -l" gofmt_clean
step "go test -race -count=1 ./..." go test -race -count=1 -timeout "$TEST_TIMEOUT" ./...
step "README quick start (signet quickstart)" go run ./cmd/signet quickstart
step "blob walk-through (scripts/blob-quickstart.sh)" scripts/blob-quickstart.sh
step "fuzz (-fuzztime $FUZZTIME)" fuzz_all

# Further modules, such as test/interop once it has its own go.mod.
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	step "$dir: go vet ./..." in_dir "$dir" go vet ./...
	step "$dir: go test -race -count=1 ./..." in_dir "$dir" go test -race -count=1 -timeout "$TEST_TIMEOUT" ./...
	step "$dir: fuzz (-fuzztime $FUZZTIME)" in_dir "$dir" fuzz_all
done < <(find . -name go.mod -not -path ./go.mod -not -path './tools/*' -not -path './.git/*' \
	-not -path '*/testdata/*' | sort)

finish
