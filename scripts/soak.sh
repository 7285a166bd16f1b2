#!/usr/bin/env bash
# The long forms of tests the suite runs shortened (outside the README test
# command): 200 insmod/rmmod cycles, every set-up hypercall failed in turn,
# and device_test's dev.mmap_headers 200 times in a row against a fast
# simulator (selftests/header_race.sh), a 30 s flood at sim_rate=1000000
# before FLUSH and rmmod (selftests/sim_flood.sh), 10^6 fuzzer calls
# (selftests/fuzz.sh: 500000 in regular and 500000 in circular mode, at
# most 25 minutes each; the boot has an hour), and a live group
# (selftests/live_soak.sh): 1,000 insmod/rmmod cycles over alternating
# parameter sets, then a 10-minute 'hv-evlog capture --check' at
# sim_rate=50000 with FLUSH, source changes, resizes and CPU offline/online
# once a second, then 10 minutes of the fuzzer as the consumer (mremap and
# RESIZE among its calls) with resizes and CPU offline/online once a
# second. Same judging as the suite.
#   scripts/soak.sh           (logs in out/soak/)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
OUT=$HV_EVLOG_ROOT/out/soak
prepare_kernel || exit 1
build_guest_side must
# Long quiet stretches are the point here (a 10-minute capture, 25 minutes
# of fuzzing): the hang detector waits longer, the total limit bounds them.
VM_TIMEOUT=1500
VM_SILENCE=900
VM_BOOTS="
soak-fuzz 2node fuzz.sh FUZZ_CALLS=500000 FUZZ_SECONDS=1500 VM_TIMEOUT=3600
soak-2node 2node fail_at.sh,cycles.sh,header_race.sh CYCLES=200 LOOPS=200
soak-flood 2node sim_flood.sh FLOOD_SECONDS=30
soak-live-cycles-1 2node live_soak.sh SOAK_CYCLES=500 SOAK_SECONDS=0
soak-live-cycles-2 2node live_soak.sh SOAK_CYCLES=500 SOAK_SECONDS=0
soak-live-capture 2node live_soak.sh SOAK_CYCLES=4 SOAK_SECONDS=600 SOAK_RATE=50000 VM_TIMEOUT=2400
"
vm_suite "$OUT"
read -r p f s <<< "$VM_COUNTS"
echo
echo "$p passed, $f failed, $s skipped"
[ "$f" = 0 ]
