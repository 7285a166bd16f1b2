#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# CPU hotplug while 'hv-evlog capture' runs, through
# /sys/devices/system/cpu/cpuN/online. The highest CPU is offline at load,
# so the plan leaves it out; brought online, it is served by new buffers
# with the target node and proximity domain the plan gives its node's other
# CPUs, and the capture maps them. Then it and CPU 1 go offline and online
# under load: the served-CPU table (debugfs cpus) says offline and online,
# an offline CPU keeps its buffers and none of them stays in use (its buffer
# in use was flushed), and at the end nothing was lost (lost=0, every CPU's
# event contexts contiguous from 0: no completed buffer went missing).
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/capture_lib.sh"
needs_own_load
[ -x "$TOOL" ] || { echo "1..0 # SKIP $TOOL not present"; exit 4; }
ncpu=$(nproc --all 2>/dev/null || nproc)
c=$((ncpu - 1))
online_file=/sys/devices/system/cpu/cpu$c/online
if [ "$ncpu" -lt 3 ] || [ ! -w $online_file ]; then
	echo "1..0 # SKIP needs 3 CPUs and CPU hotplug ($online_file)"
	exit 4
fi
T=/tmp/hv-evlog-hotplug
D=/sys/kernel/debug/hv_evlog
mkdir -p $T
echo "1..30"
pages=16
bsize=$((pages * 4096))
# 4 buffers per CPU: with a flush every 0.3 s the capture may stall for
# about a second (a CPU going offline under TCG) without losing an event.
per=4

# served CPU: its debugfs cpus line (cpu node pxm online buffers).
served() { awk -v c="$1" 'NR > 1 && $1 == c' $D/cpus; }
# The plan's target node and pxm for the CPUs of CPU $1's node.
# shellcheck disable=SC2012 # sysfs names the CPU's node nodeN: nothing to mangle
node_of() { ls -d /sys/devices/system/cpu/cpu"$1"/node* | sed 's/.*node//'; }
planned_for() { awk -v n="$(node_of "$1")" 'NR > 1 && $4 == n { print $5, $6; exit }' $D/plan; }
# States of CPU $1's buffers, from debugfs buffers.
states() { awk -v c="$1" 'NR > 1 && $4 == c { printf "%s ", $5 }' $D/buffers; }

# 1-2: CPU c offline at load: not served.
echo 0 >$online_file
insmod "$MOD" backend=sim buffer_pages=$pages buffers_per_cpu=$per max_buffers=$((per * ncpu)) \
	sim_rate=200 &&
	$TOOL sources none >/dev/null
result $? "insmod with CPU $c offline, sources none" "$(dmesg | tail -3)"
check "CPU $c not served at load" "" "$(served $c)"
start_capture
$TOOL sources all >/dev/null && flushes 3

# 3-5: CPU c comes online: 2 new buffers where the plan puts its node's.
echo 1 >$online_file
check "CPU $c online: served by $per buffers on its node's target" \
	"$c $(planned_for $c) online $per" "$(served $c)"
wait_mapped
check "the capture maps CPU $c's new buffers" "$(want_mapped)" "$(mapped)"
flushes 3
nev=$(grep -c "\"cpu\":$c," $T/events.json)
[ "$nev" -gt 0 ]
result $? "the capture has CPU $c's events" "$nev events"

# 6-9: CPU c and CPU 1 offline and online under load, twice for c.
for cpu in $c 1 $c; do
	f=/sys/devices/system/cpu/cpu$cpu/online
	echo 0 >"$f"
	line=$(served "$cpu")
	st=$(states "$cpu")
	flushes 2
	echo 1 >"$f"
	[ "$line" = "$cpu $(planned_for "$cpu") offline $per" ] && [ -n "$st" ] &&
		! echo "$st" | grep -q 'in-use' && [ "$(served "$cpu")" = "$cpu $(planned_for "$cpu") online $per" ]
	result $? "CPU $cpu offline: table says so, its $per buffers kept, none in use; online again" \
		"offline: '$line' states '$st'; online: '$(served "$cpu")'"
done
flushes 2
result $? "flushes after the hotplug" ""

# 10-12: nothing lost.
stop_capture 1
rmmod hv_evlog

# A group of 1-page buffers, 2 per CPU, nothing logged: for the CPU
# coming online beside retired buffers, and during the load.
load2() {
	insmod "$MOD" backend=sim buffer_pages=1 buffers_per_cpu=2 max_buffers=$((4 * ncpu)) sim_rate=0
}
# Where debugfs cpus and buffers disagree on a served CPU's buffers in the
# rotation, or a buffer serves a CPU that is not served; nothing if they
# agree.
disagree() {
	awk 'FNR == 1 { next }
	FILENAME ~ /cpus$/ { want[$1] = $5; next }
	!($4 in want) { print "buffer " $1 " serves cpu " $4 ", which is not served" }
	$5 != "retired" { got[$4]++ }
	END { for (c in want) if (want[c] != got[c] + 0) print "cpu " c ": cpus says " want[c] ", buffers has " got[c] + 0 }
	' $D/cpus $D/buffers
}
retired() { awk 'NR > 1 && $5 == "retired"' $D/buffers | wc -l; }
HOLD=$(dirname "$0")/hv_evlog_hold
# hold PER_CPU: hv_evlog_hold maps every buffer, resizes to PER_CPU and
# brings CPU c online, then keeps its mapping until release_hold; its
# lines in $T/hold.out.
hold() {
	rm -f $T/hold.in
	mkfifo $T/hold.in
	$HOLD "$1" $online_file 1 <$T/hold.in >$T/hold.out 2>&1 &
	hold=$!
	exec 3>$T/hold.in
	while kill -0 $hold 2>/dev/null && ! grep -q '^write' $T/hold.out; do
		sleep 0.1
	done
}
release_hold() {
	exec 3>&-
	wait $hold
}
field() { sed -n "s/^$1 .*$2=\([0-9]*\).*/\1/p" $T/hold.out; }

# 13-14: the time a new CPU's buffers take with nothing retired: the
# baseline for 16 (same machine, same run).
echo 0 >$online_file
load2
hold 2
base=$(field write ms)
check "with nothing retired: resize 2, CPU $c online" "0 0" "$(field resize errno) $(field write errno)"
release_hold
check "CPU $c online: served by 2 new buffers" "$c $(planned_for $c) online 2" "$(served $c)"
rmmod hv_evlog

# 15-19: CPU c comes online while buffers that a resize retired stay
# mapped. Their deletion waits for the mapping; nothing else does: the
# online is as quick as without them and serves the CPU with the group's
# new count, and debugfs cpus and buffers agree.
echo 0 >$online_file
load2
served_cpus=$(($(wc -l <$D/cpus) - 1))
hold 1
check "resize 1 while mapped: EBUSY, each served CPU's second buffer retired" \
	"16 $served_cpus" "$(field resize errno) $(retired)"
ms=$(field write ms)
# The bound scales with the baseline (a slow machine is slow for both) and
# stays far below the 5 s a wait for the mapped buffers took.
[ "$(field write errno)" = 0 ] && [ -n "$ms" ] && [ "$ms" -le $((250 + 3 * base)) ]
result $? "CPU $c online beside them in $ms ms (at most 250 + 3 x $base)" "$(cat $T/hold.out)"
check "CPU $c online: served by 1 new buffer" "$c $(planned_for $c) online 1" "$(served $c)"
check "cpus and buffers agree" "" "$(disagree)"
release_hold
$TOOL resize 1 >$T/resize.out 2>&1
rc=$?
check "unmapped: resize 1 deletes the retired buffers" "0 0" "$rc $(retired)"
rmmod hv_evlog

# 20: CPU c comes online with the N-th hypercall of its set-up failing,
# for each N until none fails: it is served by the buffers that were
# created, or not at all if none was, and cpus and buffers agree.
k=1
bad=
while [ $k -le 20 ]; do
	echo 0 >$online_file
	load2
	echo "fail_in $k" >$D/sim_faults
	echo 1 >$online_file
	left=$(sed -n 's/^fail_in //p' $D/sim_faults)
	line=$(served $c)
	case "$line" in
	"" | "$c $(planned_for $c) online 1" | "$c $(planned_for $c) online 2") ;;
	*) bad="$bad call $k: '$line';" ;;
	esac
	[ -z "$(disagree)" ] || bad="$bad call $k: $(disagree);"
	rmmod hv_evlog
	[ "$left" = 0 ] || break
	k=$((k + 1))
done
[ -z "$bad" ] && [ "$left" != 0 ]
result $? "CPU $c online with each of its $((k - 1)) set-up calls failing in turn: served by what was created" \
	"$bad failures left: $left"
echo 1 >$online_file

# 21-30: CPU c comes online (goes offline) while the module loads, at
# different points of the set-up: afterwards it is served (not served or
# marked offline) as sysfs says, and cpus and buffers agree.
for d in 0 0.05 0.1 0.2 0.4; do
	echo 0 >$online_file
	load2 &
	sleep $d
	echo 1 >$online_file
	wait $!
	check "CPU $c online ${d} s into the load: served" \
		"$c $(planned_for $c) online 2 " "$(served $c) $(disagree)"
	rmmod hv_evlog
	load2 &
	sleep $d
	echo 0 >$online_file
	wait $!
	case "$(served $c)" in
	"" | "$c $(planned_for $c) offline 2") true ;;
	*) false ;;
	esac
	result $? "CPU $c offline ${d} s into the load: not served, or marked offline" \
		"$(served $c) $(disagree)"
	rmmod hv_evlog
	echo 1 >$online_file
done
[ $fails = 0 ]
