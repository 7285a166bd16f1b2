# SPDX-License-Identifier: GPL-2.0
# TAP helpers shared by the shell selftests (sourced, not run).
# shellcheck shell=sh
n=0
fails=0

# result STATUS NAME DETAIL: "ok" when STATUS is 0, else "not ok # DETAIL".
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2 # $3"
		fails=$((fails + 1))
	fi
}

# skip NAME REASON: a skip is reported as a skip, never as a pass.
skip() {
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

# check NAME EXPECTED ACTUAL: exact comparison.
check() {
	[ "$2" = "$3" ]
	result $? "$1" "expected '$2', got '$3'"
}

# The module file the tests load, and the helpers next to the tests; the
# HV_EVLOG_* variables override them (on a real host).
MOD=${HV_EVLOG_KO:-/lib/modules/hv_evlog.ko}
# shellcheck disable=SC2034 # used by the tests that source this
LOAD=${HV_EVLOG_LOAD:-$(dirname "$0")/hv_evlog_load}
# shellcheck disable=SC2034 # used by the tests that source this
TOOL=${HV_EVLOG_TOOL:-$(dirname "$0")/hv-evlog}

# needs_own_load: the calling test loads hv_evlog itself (with backend=sim).
# Where the module file is missing, or hv_evlog is already loaded (a real
# Hyper-V root running it with backend=hv), the test is skipped, never
# passed, and the loaded module is left alone.
needs_own_load() {
	if [ ! -r "$MOD" ]; then
		echo "1..0 # SKIP $MOD not present (set HV_EVLOG_KO)"
		exit 4
	fi
	if [ -e /sys/module/hv_evlog ]; then
		echo "1..0 # SKIP hv_evlog is already loaded; this test loads it itself with backend=sim"
		exit 4
	fi
}
