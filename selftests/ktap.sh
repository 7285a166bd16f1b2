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
