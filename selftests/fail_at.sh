#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Fails each hypercall of a full set-up in turn (sim_fail_at=N, status
# INVALID_PARAMETER): every such insmod must fail with EINVAL, leave nothing
# loaded and unwind without a failed teardown step; past the last call the
# load succeeds. Run once with seeded pools and once with empty ones, where
# the set-up also deposits. kmemleak is checked by the harness after boot.
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

echo "1..5"
set -- $(sweep)
[ "$2" = - ] && [ "$1" -ge 10 ]
result $? "seeded pools: each of the $1 set-up calls fails cleanly" "stopped at call $1: $2"
seeded=$1
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
[ $fails -eq 0 ]
