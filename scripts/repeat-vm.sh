#!/usr/bin/env bash
# Runs the VM part of the suite (scripts/lib.sh's VM_BOOTS) N times in a row
# and reports every failure and each run's slowest boot against its limit.
# For developers chasing flaky tests; not part of scripts/test.sh.
#   scripts/repeat-vm.sh [N]        (default 10; logs in out/repeat/RUN/)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
OUT=$HV_EVLOG_ROOT/out/repeat
runs=${1:-10}
case $runs in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac

prepare_kernel || exit 1
build_guest_side must

base=$OUT
rm -rf "$base"
bad=0
for run in $(seq 1 "$runs"); do
	dir=$base/$run
	start=$(date +%s)
	vm_suite "$dir" > "$dir.log" 2>&1
	read -r p f s <<< "$VM_COUNTS"
	slowest=$(grep -ho 'finished in [0-9.]* s ([0-9]*% of its [0-9]* s limit' "$dir"/*.out |
		sort -k3 -n | tail -1)
	echo "run $run: $p passed, $f failed, $s skipped in $(($(date +%s) - start)) s; slowest boot: ${slowest:-none}"
	if [ "$f" != 0 ]; then
		bad=$((bad + 1))
		grep -h '^ *not ok' "$dir.log" | sed "s/^/  run $run: /"
	fi
done
echo "$((runs - bad)) of $runs runs green (logs: $base)"
[ "$bad" = 0 ]
