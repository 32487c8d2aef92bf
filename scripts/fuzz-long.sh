#!/usr/bin/env bash
# fuzz-long.sh [DURATION]: runs every fuzz target of the module, and of every further module (a
# go.mod below the root, not under tools/ or testdata/), for DURATION each (a go test -fuzztime
# value, default 5m), two targets at a time, and prints a summary: per target the result, the wall
# time, the executions and the new interesting inputs Go reported.
#
# A target that fails leaves its failing input where Go writes it, in the package's
# testdata/fuzz/FuzzXxx/ directory: commit it with the fix as a regression seed (plain `go test`
# then runs it). The script exits 1 if any target failed (or could not be listed), else 0.
#
# Go's fuzzing coordinator sometimes ends a run that found nothing with "context deadline exceeded"
# when the time is up while a worker is busy; such a run wrote no failing input and is tried again
# (up to three runs in all), as in scripts/test.sh.
#
# Environment:
#   SIGNET_FUZZ_JOBS      targets run at once (default 2)
#   SIGNET_FUZZ_PARALLEL  fuzzing workers per target, go test -parallel (default 1: with two jobs,
#                         one worker per core of a 2-core machine)
#   SIGNET_FUZZ_LOGS      directory for each target's output (default: a new temporary directory,
#                         kept and printed at the end)
#   SIGNET_FUZZ_MATCH     only targets whose name matches this extended regular expression
#   SIGNET_FUZZ_MINIMIZE  go test -fuzzminimizetime (default 5s): Go minimizes every new interesting
#                         input, not only failing ones, inside DURATION; the envelope targets verify
#                         signatures on each run, and a longer budget spends most of the time there
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${1:-5m}
JOBS=${SIGNET_FUZZ_JOBS:-2}
PARALLEL=${SIGNET_FUZZ_PARALLEL:-1}
MATCH=${SIGNET_FUZZ_MATCH:-.}
MINIMIZE=${SIGNET_FUZZ_MINIMIZE:-5s}
LOGS=${SIGNET_FUZZ_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/signet-fuzz.XXXXXX")}
mkdir -p "$LOGS" || exit 2

case $DURATION in
'' | *[!0-9a-zµ.]*) printf 'usage: %s [DURATION]  (a go test -fuzztime value such as 5m or 90s)\n' "$0" >&2; exit 2 ;;
esac
case $JOBS$PARALLEL in *[!0-9]*) printf 'SIGNET_FUZZ_JOBS and SIGNET_FUZZ_PARALLEL must be numbers\n' >&2; exit 2 ;; esac

listing_failed=0

# list_targets DIR: prints "DIR PKG NAME" for every fuzz target of the module in DIR.
list_targets() {
	local dir=$1 listing line pkg name
	local -a names=()
	# go test -list prints a package's matching names, then its "ok <tab> package" line.
	if ! listing=$(cd "$dir" && go test -list '^Fuzz' ./... 2>&1); then
		printf '%s\n' "$listing" >&2
		printf 'listing the fuzz targets of %s failed; fuzzing the packages that built\n' "$dir" >&2
		listing_failed=1
	fi
	while IFS= read -r line; do
		case $line in
		Fuzz*) names+=("$line") ;;
		ok*)
			pkg=$(printf '%s\n' "$line" | awk '{print $2}')
			for name in "${names[@]}"; do
				if [[ $name =~ $MATCH ]]; then printf '%s %s %s\n' "$dir" "$pkg" "$name"; fi
			done
			names=()
			;;
		*) names=() ;;
		esac
	done <<<"$listing"
}

# fuzz_one DIR PKG NAME LOG: fuzzes one target for $DURATION; writes its output to LOG and a
# result line "STATUS SECONDS EXECS NEW RUNS" to LOG.result.
fuzz_one() {
	local dir=$1 pkg=$2 name=$3 log=$4 try status=FAIL start=$SECONDS last execs=- new=-
	for try in 1 2 3; do
		if (cd "$dir" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$DURATION" -fuzzminimizetime "$MINIMIZE" \
			-parallel "$PARALLEL" "$pkg") >"$log" 2>&1; then
			status=ok
			break
		fi
		if grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
			break
		fi
		cp "$log" "$log.try$try"
	done
	# The last progress line: "fuzz: elapsed: 2m0s, execs: 123456 (1028/sec), new interesting: 3 (total: 40)".
	last=$(grep 'fuzz: elapsed:' "$log" | tail -n 1)
	if [[ $last =~ execs:\ ([0-9]+) ]]; then execs=${BASH_REMATCH[1]}; fi
	if [[ $last =~ new\ interesting:\ ([0-9]+) ]]; then new=${BASH_REMATCH[1]}; fi
	printf '%s %d %s %s %d\n' "$status" "$((SECONDS - start))" "$execs" "$new" "$try" >"$log.result"
}

list_targets "$REPO" >"$LOGS/targets"
while IFS= read -r mod; do
	list_targets "$(dirname "$mod")" >>"$LOGS/targets"
done < <(find "$REPO" -name go.mod -not -path "$REPO/go.mod" -not -path "$REPO/tools/*" \
	-not -path '*/.git/*' -not -path '*/testdata/*' | sort)
mapfile -t targets <"$LOGS/targets"
[ "$listing_failed" = 0 ] || printf 'warning: some packages could not be listed (see above)\n' >&2

printf 'go: %s\n' "$(go version)"
printf 'machine: %s, %s cores\n' "$(uname -srm)" "$(nproc 2>/dev/null || echo '?')"
printf 'started: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%d fuzz targets, %s each, %s at a time, -parallel %s, -fuzzminimizetime %s; logs in %s\n' \
	"${#targets[@]}" "$DURATION" "$JOBS" "$PARALLEL" "$MINIMIZE" "$LOGS"

running=0
for t in "${targets[@]}"; do
	read -r dir pkg name <<<"$t"
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	log="$LOGS/${pkg//\//_}.$name.log"
	printf '  start %s %s\n' "$pkg" "$name"
	fuzz_one "$dir" "$pkg" "$name" "$log" &
	running=$((running + 1))
done
wait

failed=$listing_failed
printf '\nfinished: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-5s %7s %12s %5s  %s\n' result seconds execs new target
for t in "${targets[@]}"; do
	read -r dir pkg name <<<"$t"
	log="$LOGS/${pkg//\//_}.$name.log"
	read -r status secs execs new runs <"$log.result" 2>/dev/null || { status=FAIL secs=0 execs=- new=- runs=0; }
	note=""
	[ "${runs:-1}" -gt 1 ] && note=" ($runs runs: coordinator timeouts retried)"
	printf '%-5s %7s %12s %5s  %s %s%s\n' "$status" "$secs" "$execs" "$new" "$pkg" "$name" "$note"
	if [ "$status" != ok ]; then
		failed=1
		input=$(grep -o 'testdata/fuzz/[^ ]*' "$log" | head -n 1)
		printf '        log: %s%s\n' "$log" "${input:+; failing input: $input (in the package directory)}"
	fi
done
if [ "$listing_failed" != 0 ]; then
	printf 'FAILED: some packages could not be listed (see the start of the output): their targets did not run\n'
fi
if [ "$failed" != 0 ]; then
	printf 'FAILED: see the logs above; commit each failing input with its fix as a regression seed\n'
	exit 1
fi
printf 'all %d targets passed\n' "${#targets[@]}"
