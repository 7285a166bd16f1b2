#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Fails each hypercall of a full set-up in turn (sim_fail_at=N, status
# INVALID_PARAMETER): every such insmod must fail with EINVAL, leave nothing
# loaded and unwind without a failed teardown step; past the last call the
# load succeeds. Run once with seeded pools and once with empty ones, where
# the set-up also deposits. Then the first map call fails once with
# INSUFFICIENT_MEMORY: like every set-up call it is retried after a deposit,
# so the load succeeds. kmemleak is checked by the harness after boot.
. "$(dirname "$0")/ktap.sh"
needs_own_load

# sweep EXTRA-PARAMS: prints "calls bad" (bad = first failing N and why).
sweep() {
	i=1
	while [ $i -le 400 ]; do
		dmesg -c > /dev/null
		got=$($LOAD "$MOD" backend=sim sim_fail_at=$i "$@" | sed -n 's/^errno=//p')
		if [ "$got" = 0 ]; then
			rmmod hv_evlog
			echo "$((i - 1)) -"
			return
		fi
		if [ "$got" != 22 ]; then echo "$i errno=$got"; return; fi
		if [ -e /sys/module/hv_evlog ]; then echo "$i still-loaded"; return; fi
		if dmesg | grep -q 'teardown:'; then echo "$i teardown-failed"; return; fi
		i=$((i + 1))
	done
	echo "$i never-loaded"
}

echo "1..7"
# shellcheck disable=SC2046 # two words: the call it stopped at and how
set -- $(sweep)
[ "$2" = - ] && [ "$1" -ge 10 ]
result $? "seeded pools: each of the $1 set-up calls fails cleanly" "stopped at call $1: $2"
seeded=$1
# shellcheck disable=SC2046 # as above
set -- $(sweep sim_pool_pages=0)
[ "$2" = - ] && [ "$1" -gt "$seeded" ]
result $? "empty pools: each of the $1 set-up calls (deposits included) fails cleanly" "stopped at call $1: $2"
dmesg -c > /dev/null
insmod "$MOD" backend=sim
result $? "a plain insmod succeeds afterwards" "exit $?"
rmmod hv_evlog
result $? "and unloads" "exit $?"
[ "$(dmesg | grep -c 'teardown:')" = 0 ]
result $? "without a failed teardown step" "$(dmesg | grep teardown: | head -1)"

# 6-7: one buffer per CPU of node 0 (seeded pools, so no deposit): the calls
# are the pool query, initialize, one create per CPU, then the first map.
n0=$(awk -F, '{ for (i = 1; i <= NF; i++) { split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } } END { print n }' /sys/devices/system/node/node0/cpulist)
map=$((2 + n0 + 1))
dmesg -c > /dev/null
got=$($LOAD "$MOD" backend=sim nodes=0 buffers_per_cpu=1 sim_fail_at=$map | sed -n 's/^errno=//p')
[ "$got" = 0 ] && rmmod hv_evlog
[ "$got" = 22 ] && dmesg | grep -q 'HvCallMapEventLogBuffer failed: HV_STATUS_INVALID_PARAMETER'
result $? "call $map is the first map ($n0 CPUs on node 0)" "errno=$got: $(dmesg | grep hv_evlog | tail -2)"
dmesg -c > /dev/null
got=$($LOAD "$MOD" backend=sim nodes=0 buffers_per_cpu=1 sim_fail_at=$map sim_fail_status=11 | sed -n 's/^errno=//p')
[ "$got" = 0 ] && rmmod hv_evlog
[ "$got" = 0 ] && [ "$(dmesg | grep -c 'teardown:')" = 0 ]
result $? "map out of pool memory: deposit and retry, the load succeeds" "errno=$got: $(dmesg | grep hv_evlog | tail -2)"
[ $fails -eq 0 ]
