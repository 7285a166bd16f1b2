#!/usr/bin/env bash
# The long forms of tests the suite runs shortened (outside the README test
# command): 200 insmod/rmmod cycles, every set-up hypercall failed in turn,
# and device_test's dev.mmap_headers 200 times in a row against a fast
# simulator (selftests/header_race.sh), a 30 s flood at sim_rate=1000000
# before FLUSH and rmmod (selftests/sim_flood.sh), and 10^6 fuzzer calls
# (selftests/fuzz.sh: 500000 in regular and 500000 in circular mode, at
# most 25 minutes each; the boot has an hour). Same judging as the suite.
#   scripts/soak.sh           (logs in out/soak/)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
prepare_kernel || exit 1
build_guest_side must
VM_TIMEOUT=900
VM_BOOTS="
soak-fuzz 2node fuzz.sh FUZZ_CALLS=500000 FUZZ_SECONDS=1500 VM_TIMEOUT=3600
soak-2node 2node fail_at.sh,cycles.sh,header_race.sh CYCLES=200 LOOPS=200
soak-flood 2node sim_flood.sh FLOOD_SECONDS=30
"
vm_suite "$HV_EVLOG_ROOT/out/soak"
read -r p f s <<< "$VM_COUNTS"
echo
echo "$p passed, $f failed, $s skipped"
[ "$f" = 0 ]
