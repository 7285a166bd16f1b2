#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every parameter at its bounds, one past them, zero and a bad word: the
# exact errno, and for a refusal exactly one dmesg line naming the parameter.
# (sim_pool_pages at its maximum is valid but more than a VM node holds: the
# simulator refuses it with ENOMEM instead of draining the node.)
# Loads that succeed are unloaded again; kmemleak is checked by the harness
# after the boot.
. "$(dirname "$0")/ktap.sh"
needs_own_load
BASE="backend=sim"
n=0
fails=0

# case EXPECTED_ERRNO PARAM ARGS...: the first word after the errno is the
# parameter the dmesg line must name.
case_() {
	want=$1 param=$2
	shift 2
	n=$((n + 1))
	dmesg -c > /dev/null
	base=$BASE
	[ "$param" = backend ] && base=
	got=$($LOAD "$MOD" $base "$@" | sed -n 's/^errno=//p')
	lines=$(dmesg | grep -c -e "invalid parameter $param=" -e "invalid for parameter \`$param'")
	if [ "$got" = 0 ]; then rmmod hv_evlog; fi
	if [ "$got" != "$want" ]; then
		echo "not ok $n $* # errno $got, expected $want"
		fails=$((fails + 1))
	elif [ "$want" != 0 ] && [ "$lines" != 1 ]; then
		echo "not ok $n $* # $lines dmesg lines naming $param, expected 1: $(dmesg | tail -3)"
		fails=$((fails + 1))
	else
		echo "ok $n $* -> errno $got"
	fi
}

EINVAL=22
ENOMEM=12
long=$(printf '%070d' 0)
echo "1..77"
case_ 0 buffer_pages buffer_pages=1
case_ 0 buffer_pages buffer_pages=512
case_ $EINVAL buffer_pages buffer_pages=0
case_ $EINVAL buffer_pages buffer_pages=513
case_ $EINVAL buffer_pages buffer_pages=abc
case_ 0 buffers_per_cpu buffers_per_cpu=1
case_ $EINVAL buffers_per_cpu buffers_per_cpu=0
case_ $EINVAL buffers_per_cpu buffers_per_cpu=513
case_ $EINVAL buffers_per_cpu buffers_per_cpu=two
# max_buffers: 0 (4 times the plan), or from the plan (2 buffers for each
# online CPU at the default buffers_per_cpu) to 512.
planned=$((2 * $(nproc)))
case_ 0 max_buffers max_buffers=0
case_ 0 max_buffers max_buffers=$planned
case_ 0 max_buffers max_buffers=512
case_ $EINVAL max_buffers max_buffers=$((planned - 1))
case_ $EINVAL max_buffers max_buffers=513
case_ $EINVAL max_buffers max_buffers=many
case_ 0 threshold threshold=1
case_ $EINVAL threshold threshold=0
case_ $EINVAL threshold threshold=513
case_ $EINVAL threshold threshold=-1
case_ 0 sources sources=0x3fffff00
case_ 0 sources sources=0x400
case_ $EINVAL sources sources=0
case_ $EINVAL sources sources=0x3
case_ $EINVAL sources sources=0x401
case_ $EINVAL sources sources=0x40000000
case_ $EINVAL sources sources=0x8000000000000000
case_ $EINVAL sources sources=hc
case_ 0 scan_interval_ms scan_interval_ms=1
case_ 0 scan_interval_ms scan_interval_ms=10000
case_ $EINVAL scan_interval_ms scan_interval_ms=0
case_ $EINVAL scan_interval_ms scan_interval_ms=10001
case_ 0 sim_pool_pages sim_pool_pages=0
case_ $ENOMEM sim_pool_pages sim_pool_pages=1048576
case_ $EINVAL sim_pool_pages sim_pool_pages=1048577
case_ 0 sim_rate sim_rate=0
case_ 0 sim_rate sim_rate=1000000
case_ $EINVAL sim_rate sim_rate=1000001
case_ 0 sim_fail_at sim_fail_at=0
case_ $EINVAL sim_fail_at sim_fail_at=x
case_ 0 sim_fail_status sim_fail_status=1
case_ 0 sim_fail_status sim_fail_status=65535
case_ $EINVAL sim_fail_status sim_fail_status=0
case_ $EINVAL sim_fail_status sim_fail_status=65536
case_ 0 log_hypercalls log_hypercalls=0
case_ 0 log_hypercalls log_hypercalls=4096
case_ $EINVAL log_hypercalls log_hypercalls=4097
case_ $EINVAL log_hypercalls log_hypercalls=on
case_ $EINVAL backend backend=bogus
case_ $EINVAL backend backend=
case_ $EINVAL backend backend=SIM
case_ 0 type type=local
case_ 0 type type=global
case_ 0 type type=system
case_ $EINVAL type type=bogus
case_ $EINVAL type type=
case_ $EINVAL type "type=$long"
case_ 0 mode mode=regular
case_ 0 mode mode=circular
case_ $EINVAL mode mode=ring
case_ $EINVAL mode mode=
case_ 0 time_basis time_basis=reference
case_ 0 time_basis time_basis=tsc
case_ $EINVAL time_basis time_basis=qpc
case_ $EINVAL time_basis time_basis=
case_ 0 nodes nodes=0
case_ 0 nodes nodes=0-0
case_ $EINVAL nodes nodes=x
case_ $EINVAL nodes nodes=1-0
case_ $EINVAL nodes nodes=1024
case_ $EINVAL nodes nodes=0,
case_ $EINVAL nodes nodes=-1
case_ $EINVAL nodes "nodes=$long"

# A word given twice: the last value wins, as for the kernel's own string
# parameters; the loaded group shows it. (Before: EEXIST.)
# twice NAME EXPECTED ARGS...: loads with ARGS; info --json must say
# "NAME":"EXPECTED".
twice() {
	name=$1 want=$2
	shift 2
	n=$((n + 1))
	got=$($LOAD "$MOD" "$@" | sed -n 's/^errno=//p')
	shown=
	if [ "$got" = 0 ]; then
		shown=$($TOOL info --json | grep -o "\"$name\":\"[a-z]*\"")
		rmmod hv_evlog
	fi
	if [ "$got" = 0 ] && [ "$shown" = "\"$name\":\"$want\"" ]; then
		echo "ok $n $* -> loaded with $name=$want"
	else
		echo "not ok $n $* # errno $got, info shows '$shown', expected $name=$want"
		fails=$((fails + 1))
	fi
}
twice backend sim backend=hv backend=sim
twice mode circular backend=sim mode=regular mode=circular
twice mode regular backend=sim mode=circular mode=regular
twice type global backend=sim type=system type=global
# A number given twice stays refused by 7.2's Rust parameter parser: EEXIST,
# with the kernel's one line.
EEXIST=17
case_ $EEXIST buffer_pages buffer_pages=8 buffer_pages=16
[ $fails -eq 0 ]
