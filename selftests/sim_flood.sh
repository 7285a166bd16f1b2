#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Bounded simulator work: at sim_rate=1000000 (the
# largest accepted) the simulator's writers log at most 256 events per CPU
# per 5 ms tick and count the rest as lost, with the core's lock taken per
# CPU. So after a flood of FLOOD_SECONDS (default 20; scripts/soak.sh runs
# 30) a FLUSH and the rmmod each return within 5 s, and the records'
# events_lost account for the excess. (Before: after 20 s, hv-evlog flush
# took 22 s and rmmod had not returned after 150 s.)
. "$(dirname "$0")/ktap.sh"
needs_own_load
T=$(mktemp -d)
FLOOD_SECONDS=${FLOOD_SECONDS:-20}
BOUND_CS=500	# 5 s, in /proc/uptime's hundredths
echo "1..6"

# Hundredths of a second since boot.
now_cs() {
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}" | sed 's/^0*//; s/^$/0/'
}

# timed NAME CMD...: runs CMD in the background and waits for it at most
# twice the bound; reports whether it returned, successfully, within the
# bound. Leaves the elapsed hundredths in $took and 1 in $hung if it did
# not return at all.
timed() {
	name=$1
	shift
	t0=$(now_cs)
	"$@" > "$T/out" 2>&1 &
	pid=$!
	hung=1
	while [ $(($(now_cs) - t0)) -lt $((2 * BOUND_CS)) ]; do
		if ! kill -0 $pid 2>/dev/null; then
			hung=0
			break
		fi
		sleep 0.05
	done
	took=$(($(now_cs) - t0))
	rc=1
	[ $hung = 0 ] && wait $pid && rc=0
	[ $rc = 0 ] && [ $took -le $BOUND_CS ]
	result $? "$name returns within 5 s" "exit $rc, hung=$hung, took ${took}0 ms: $(cat "$T/out")"
}

insmod "$MOD" backend=sim sim_rate=1000000
result $? "insmod with sim_rate=1000000" "exit $?"
sleep "$FLOOD_SECONDS"
timed "hv-evlog flush after ${FLOOD_SECONDS} s at sim_rate=1000000" "$TOOL" flush
# Each record's events_lost: the events its CPU could not log before the
# buffer started (full buffers while nobody consumed, and everything above
# the per-tick cap).
$TOOL capture --duration 2 > /dev/null 2> "$T/cap.err"
result $? "capture runs" "$(cat "$T/cap.err")"
lost=$(sed -n 's/.* lost=\([0-9]*\) .*/\1/p' "$T/cap.err")
# In 2 s each CPU is owed 2,000,000 events and can log at most 102,400.
[ "${lost:-0}" -gt 1000000 ]
result $? "the records' events_lost count the excess (more than 10^6 in 2 s)" "$(cat "$T/cap.err")"
$TOOL stats > "$T/stats"
result $? "stats answers" "$(cat "$T/stats")"
timed "rmmod after the flood" rmmod hv_evlog
[ "$fails" = 0 ] || exit 1
