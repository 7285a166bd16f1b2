#!/bin/sh
# Guest side of scripts/demo.sh: the NUMA layout, hv_evlog loaded on the
# simulated hypervisor, its buffer table, a few seconds of decoded events,
# and a clean unload.
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }
export PATH=/tests:$PATH
show "cat /sys/devices/system/node/online"
show "for n in /sys/devices/system/node/node*; do echo \"\$n: CPUs \$(cat \$n/cpulist)\"; done"
show "insmod /lib/modules/hv_evlog.ko backend=sim buffer_pages=1 sim_rate=500"
show "dmesg | grep hv_evlog"
show "hv-evlog info"
show "cat /sys/kernel/debug/hv_evlog/domains"
show "hv-evlog capture --duration 5 --count 12"
show "hv-evlog stats"
show "rmmod hv_evlog"
show "dmesg | grep hv_evlog | tail -1"
