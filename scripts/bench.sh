#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks, not part of scripts/test.sh: boots a 2node and a
# 4node guest, one after the other (two guests at once on this 2-core
# machine kind would measure the host's scheduler: each guest's wake-ups
# and writers waited for the other's vCPUs), each running every
# measurement with its baseline in the same boot (vm/bench-guest.sh, with
# hv-evlog-bench), and prints one table per topology. The test kernel boots
# with its boot-time debugging off (vm/run.py --debug off): the figures are
# the module's, not slub_debug's, KFENCE's, kmemleak's or DEBUG_PAGEALLOC's.
# KVM when usable, else TCG; the table says which. Results:
# out/bench/bench.json (with the raw BENCH lines), the consoles and reports
# beside it.
#
#   scripts/bench.sh            full run (about 15 minutes on 2 cores, TCG);
#                               rewrites the Performance section of
#                               Documentation/hv_evlog.rst from its JSON
#   BENCH_QUICK=1 scripts/bench.sh
#                               the smoke form: one tiny iteration of each,
#                               checks that every figure is there and positive
#
# Uses KDIR when set (an already built test kernel); otherwise sets up and
# builds it as scripts/test.sh does.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

QUICK=${BENCH_QUICK:-0}
OUT=$HV_EVLOG_ROOT/out/bench
# A full boot needs about 6 minutes on this machine kind; the limits only
# detect a hang (vm/run.py): the total leaves room for a machine twice as
# slow, and a zero-loss bisection may print nothing for minutes.
TIMEOUT=1800
SILENCE=600
[ "$QUICK" = 1 ] && TIMEOUT=960
REPORT=$HV_EVLOG_ROOT/scripts/bench-report.py
# Built by build_cli beside the tool (same crate, same target directory).
BENCH_BIN=$(dirname "$HV_EVLOG_CLI")/hv-evlog-bench

build_bench() {
	build_cli &&
		file "$BENCH_BIN" | grep -q 'static'
}

main() {
	local t0=$SECONDS
	if [ -z "${KDIR:-}" ]; then
		prepare_kernel || exit 1
	fi
	rm -rf "$OUT" && mkdir -p "$OUT"
	step "build: hv-evlog-bench (static) and the module"
	must "hv-evlog-bench build" build_bench
	must "module build" build_module

	step "VM: bench-2node and bench-4node ($([ "$QUICK" = 1 ] && echo smoke || echo full))"
	local topo
	for topo in 2node 4node; do
		python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --out "$OUT" --name "bench-$topo" \
			--topology "$topo" --timeout "$TIMEOUT" --silence "$SILENCE" --tests bench-guest.sh --debug off \
			--guest-file "$HV_EVLOG_ROOT/vm/bench-guest.sh" \
			--guest-file "$BENCH_BIN" \
			--module "$HV_EVLOG_ROOT/hv_evlog.ko" --guest-env "BENCH_QUICK=$QUICK" \
			> "$OUT/bench-$topo.out" 2>&1
		grep -E '^# bench-|^(not )?ok - ' "$OUT/bench-$topo.out"
	done

	step "results"
	python3 "$REPORT" collect "$OUT" || exit 1
	python3 "$REPORT" table "$OUT/bench.json"
	local status=0
	python3 "$REPORT" check "$OUT/bench.json" || status=1
	if [ "$QUICK" != 1 ] && [ "$status" = 0 ]; then
		python3 "$REPORT" doc "$OUT/bench.json" &&
			echo "Documentation/hv_evlog.rst: Performance section rewritten from $OUT/bench.json"
	fi
	echo "bench: $((SECONDS - t0)) s in all; JSON: $OUT/bench.json"
	return $status
}
main "$@"
