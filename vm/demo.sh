#!/bin/sh
# Guest side of scripts/demo.sh.
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }
show "cat /sys/devices/system/node/online"
show "for n in /sys/devices/system/node/node*; do echo \"\$n: CPUs \$(cat \$n/cpulist)\"; done"
show "modinfo /lib/modules/hv_evlog.ko"
show "insmod /lib/modules/hv_evlog.ko backend=sim buffer_pages=32"
show "dmesg | grep hv_evlog"
show "rmmod hv_evlog"
show "dmesg | grep hv_evlog | tail -1"
