#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# backend=hv where there is no Hyper-V: loading fails with ENODEV, the kernel
# log gives the reason in exactly one line, and nothing of the module stays.
# Under Microsoft's hypervisor (or an emulation of it) the outcome differs,
# so the test skips there; it recognizes one by the Hyper-V clock source.
LINE='hv_evlog: not running on Hyper-V (no hypercall page); use backend=sim to test'
ENODEV=19
CLOCKS=/sys/devices/system/clocksource/clocksource0/available_clocksource
. "$(dirname "$0")/ktap.sh"
needs_own_load
if grep -q hyperv "$CLOCKS" 2>/dev/null; then
	echo "1..0 # SKIP running on Hyper-V: backend=hv has a hypervisor to talk to"
	exit 4
fi

echo "1..4"
dmesg -c > /dev/null
if [ -x "$LOAD" ]; then
	# finit_module(2) directly: the exact errno, not busybox's text for it.
	out=$("$LOAD" "$MOD" backend=hv)
	[ "$out" = "errno=$ENODEV" ]
	result $? "insmod backend=hv fails with ENODEV" "got '$out', expected errno=$ENODEV"
else
	out=$(insmod "$MOD" backend=hv 2>&1)
	rc=$?
	[ $rc != 0 ] && echo "$out" | grep -q 'No such device'
	result $? "insmod backend=hv fails with ENODEV" "exit $rc: $out"
fi
# The first out-of-tree module loaded in a boot also taints the kernel; that
# line is the loader's, not the module's.
log=$(dmesg | grep hv_evlog | grep -v 'taints kernel')
[ "$(echo "$log" | grep -c .)" = 1 ]
result $? "exactly one hv_evlog line in dmesg" "$(echo "$log" | grep -c .) lines: $(echo "$log" | tr '\n' '|')"
echo "$log" | grep -qF "$LINE"
result $? "the line says there is no Hyper-V and what to use" "got: $log"
! grep -q '^hv_evlog ' /proc/modules && [ ! -e /sys/module/hv_evlog ]
result $? "module is not loaded afterwards" "$(grep '^hv_evlog ' /proc/modules) $(ls -d /sys/module/hv_evlog 2>&1)"
[ $fails -eq 0 ]
