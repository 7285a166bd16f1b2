#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A reboot with the group active must run the stop sequence (sources off,
# flush the buffers in use, release the complete ones, unmap, delete,
# finalize) so that the next kernel can initialize the type again. Loads the
# module with a slow simulator so that every served CPU has a buffer in use,
# checks that, and asks guest-init to reboot (not power off) once the tests
# and the kmemleak scan are done. The outcome is judged by the harness on the
# console: the boot runs with vm/run.py --expect-console (scripts/lib.sh).
# A loop keeps setting the sources meanwhile, which the stop must not let
# in.
# Must be the boot's last test. Not for a real host: it reboots.
. "$(dirname "$0")/ktap.sh"
needs_own_load
[ -e /etc/hv-evlog/topology ] || { echo "1..0 # SKIP only in the test VM (it reboots)"; exit 4; }
echo "1..4"
insmod "$MOD" backend=sim sim_rate=100
result $? "insmod" "exit $?"
cpus=$(($(awk 'NR > 1 { print $2 }' /sys/kernel/debug/hv_evlog/plan | sort -u | wc -l)))
i=0
while [ $i -lt 50 ]; do
	inuse=$(awk '$5 == "in-use"' /sys/kernel/debug/hv_evlog/buffers | wc -l)
	[ "$inuse" = "$cpus" ] && break
	sleep 0.1
	i=$((i + 1))
done
check "every one of the $cpus served CPUs has a buffer in use" "$cpus" "$inuse"
# Sources set again and again until the machine goes down: none of these
# calls may come between the stop's "sources off" and its finalize (the
# hypervisor would refuse the finalize: "1 failed steps" on the console).
# Every set-sources call returns a second late (the simulator's injected
# fault), the stop's "sources off" too, so a call of the loop is always
# waiting when the stop goes on: only its serialization with the stop keeps
# it out. (The loop's output away from this test's: the harness reads that
# to its end.)
echo "slow_sources 1000" >/sys/kernel/debug/hv_evlog/sim_faults
check "set-sources calls slowed" "slow_sources 1000" \
	"$(grep slow_sources /sys/kernel/debug/hv_evlog/sim_faults)"
( while :; do "$TOOL" sources all; done ) </dev/null >/dev/null 2>&1 &
touch /tmp/hv-evlog-reboot
result $? "reboot armed (the harness checks the stop line on the console)" "touch failed"
[ $fails -eq 0 ]
