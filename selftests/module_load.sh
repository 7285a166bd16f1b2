#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# hv_evlog loads, reports the parameter it was given and its version, and
# unloads without leaving its sysfs directory behind.  (module! parameters
# have permission 0 in 7.2, so they are not readable under /sys/module.)
. "$(dirname "$0")/ktap.sh"
needs_own_load
echo "1..5"
insmod "$MOD" backend=sim buffer_pages=32
result $? "insmod succeeds" "exit $?"
modinfo -F parm "$MOD" | grep -q '^buffer_pages:Pages per event log buffer'
result $? "modinfo describes buffer_pages" "$(modinfo -F parm "$MOD")"
dmesg | grep -q 'hv_evlog: version 0\.1\.0 loaded (buffer_pages=32)'
result $? "dmesg reports version and parameter" "$(dmesg | grep hv_evlog | tail -1)"
rmmod hv_evlog
result $? "rmmod succeeds" "exit $?"
[ ! -e /sys/module/hv_evlog ]; result $? "module is gone after rmmod" "/sys/module/hv_evlog still there"
[ $fails -eq 0 ]
