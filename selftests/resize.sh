#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# HV_EVLOG_IOC_RESIZE while 'hv-evlog capture' runs: 2 -> 6 -> 1 buffers
# per CPU (hv-evlog resize, a control file beside the capture). After each
# step: the live table (debugfs buffers) holds exactly N buffers per served
# CPU, each with the proximity domain and on the node of the load-time plan
# for its CPU; the capture maps exactly the buffers in the rotation, each
# alone at index x buffer_size (/proc/PID/maps); shrinking keeps each CPU's
# lowest index. At the end nothing was lost: the summary says lost=0
# dropped=0 malformed=0, and each CPU's event contexts (the simulator counts
# every event, lost ones included) run from 0 without a gap. Then, on a new
# load, a grow whose map the hypervisor gets wrong (14-18 below).
#
# "Nothing lost" is what the consumer can keep: one buffer per CPU in regular
# mode loses events whenever it completes (until it is released), so the
# rate is low for the buffer size (a buffer fills in about 10 s) and
# completions come from flushes (each once every CPU has a free buffer to go
# on to) while CPUs have 2 and 6; with
# 1, logging is paused before the shrink.
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/capture_lib.sh"
needs_own_load
[ -x "$TOOL" ] || { echo "1..0 # SKIP $TOOL not present"; exit 4; }
T=/tmp/hv-evlog-resize
D=/sys/kernel/debug/hv_evlog
mkdir -p $T
echo "1..18"
ncpu=$(nproc)
pages=16
bsize=$((pages * 4096))
max=$((6 * ncpu))

# 1: room for 6 per CPU; logging paused until the capture runs, so that no
# event is lost for want of a consumer.
insmod "$MOD" backend=sim buffer_pages=$pages max_buffers=$max sim_rate=200 &&
	$TOOL sources none >/dev/null
result $? "insmod max_buffers=$max, sources none" "$(dmesg | tail -3)"

# The table: N buffers per CPU, none retired, each with its CPU's planned
# pxm and on its planned node; prints what is wrong, nothing if all is right.
table_wrong() {
	awk -v n="$1" '
	FNR == 1 { next }
	FILENAME ~ /plan$/ { node[$2] = $5; pxm[$2] = $6; cpus[$2] = 1; next }
	{
		count[$4]++
		if ($5 == "retired") print "buffer " $1 " retired"
		if ($2 != pxm[$4] || $3 != node[$4])
			print "buffer " $1 " of cpu " $4 ": pxm " $2 " node " $3 ", plan: pxm " pxm[$4] " node " node[$4]
	}
	END { for (c in cpus) if (count[c] != n) print "cpu " c ": " count[c] + 0 " buffers, want " n }
	' $D/plan $D/buffers
}
start_capture
check "capture maps each buffer alone" "$(want_mapped)" "$(mapped)"
$TOOL sources all >/dev/null && flushes 4
result $? "sources all (logging starts), 4 flushes" ""

# 4-7: grow to 6 per CPU.
out=$($TOOL resize 6 2>&1)
rc=$?
check "resize 6" "0: buffers $max of at most $max" "$rc: $(echo "$out" | sed 's/, generation [0-9]*//')"
check "after resize 6: 6 per CPU on the planned nodes" "" "$(table_wrong 6)"
wait_mapped
check "after resize 6: the capture maps the 6 per CPU at index x buffer_size" \
	"$(want_mapped)" "$(mapped)"
flushes 6
result $? "6 flushes with 6 per CPU" ""

# 8-10: shrink to 1 per CPU: the capture unmaps what retires, then RESIZE
# returns. Logging pauses first: the buffer a CPU keeps may be the one it
# was filling, and one buffer in regular mode loses events whenever it
# completes before the consumer releases it (seen once in memless: 2 lost).
$TOOL sources none >/dev/null
out=$($TOOL resize 1 2>&1)
rc=$?
check "resize 1" "0: buffers $ncpu of at most $max" "$rc: $(echo "$out" | sed 's/, generation [0-9]*//')"
lowest=$(tail -n +2 $D/plan | awk '!seen[$2]++ { printf "%d ", $1 }')
kept=$(tail -n +2 $D/buffers | awk '{ printf "%d ", $1 }')
[ -z "$(table_wrong 1)" ] && [ "$kept" = "$lowest" ]
result $? "after resize 1: each CPU keeps its lowest index ($lowest)" \
	"kept $kept; $(table_wrong 1)"
wait_mapped
check "after resize 1: the capture maps only those" "$(want_mapped)" "$(mapped)"

# 11-13: stop logging, complete what is in use, stop the capture.
stop_capture 2
rmmod hv_evlog

# 14-18: a grow whose new buffer the hypervisor maps at a frame that is not
# RAM (the simulator's injected fault): the resize fails with that buffer
# unmapped and deleted again, nothing retired or left behind, and the next
# resizes work.
insmod "$MOD" backend=sim buffer_pages=1 buffers_per_cpu=2 max_buffers=$max sim_rate=0
result $? "insmod buffers_per_cpu=2 sim_rate=0" "$(dmesg | tail -3)"
dmesg -c >/dev/null
echo bad_map >$D/sim_faults
out=$($TOOL resize 3 2>&1)
rc=$?
bad=$(dmesg | grep -c 'which is not RAM$')
[ $rc != 0 ] && [ "$bad" = 1 ] && [ -z "$(table_wrong 2)" ]
result $? "resize 3 with a bad map: refused, one dmesg line, 2 per CPU and none retired" \
	"exit $rc ($out), $bad lines; $(table_wrong 2)"
# Each must succeed at once: a buffer left mapped would make the deletion
# of every retired buffer fail.
for per in 3 1 2; do
	out=$($TOOL resize $per 2>&1) && [ -z "$(table_wrong $per)" ]
	result $? "then resize $per: $per per CPU, none retired" "$out; $(table_wrong $per)"
done
rmmod hv_evlog
[ $fails = 0 ]
