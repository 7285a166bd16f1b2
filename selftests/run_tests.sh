#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs the selftests as one TAP stream, each test's own TAP nested below it,
# as kselftest's runner does. On a real Hyper-V root with hv_evlog loaded,
# the tests that load the module themselves with backend=sim skip.
# Usage: run_tests.sh [TEST...]   (default: every test the Makefile lists)
cd "$(dirname "$0")" || exit 1
# shellcheck disable=SC2046 # one word per test
[ $# -gt 0 ] || set -- $(make -s print-tests)
echo "TAP version 13"
echo "1..$#"
i=0
status=0
for t in "$@"; do
	i=$((i + 1))
	echo "# $t"
	./"$t" > /tmp/hv_evlog_selftest.$$ 2>&1
	rc=$?
	sed 's/^/    /' /tmp/hv_evlog_selftest.$$
	case $rc in
	0) echo "ok $i $t" ;;
	4) echo "ok $i $t # SKIP" ;;
	*) echo "not ok $i $t # exit $rc"; status=1 ;;
	esac
done
rm -f /tmp/hv_evlog_selftest.$$
exit $status
