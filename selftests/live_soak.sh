#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A live group under a long load (scripts/soak.sh runs the long form, the
# suite a short one):
#
# 1. SOAK_CYCLES insmod/rmmod cycles, the parameter sets taken in turn:
#    types (local, global), modes (regular, circular), page counts (1, 16,
#    64, 8), node lists (all, the first CPU node), max_buffers.
# 2. 'hv-evlog capture --check' for SOAK_SECONDS at sim_rate=SOAK_RATE
#    while, one a second in turn: FLUSH, a source change, a resize (1-6 per
#    CPU), the highest CPU offline, then online. --check makes the capture
#    fail if a record sequence has a gap beyond the records dropped or goes
#    back, if a counter goes backwards, or if at the end completions differ
#    from releases + pending + dropped. Events may be lost at this rate
#    (they are counted); none may be malformed.
# 3. The fuzzer (hv_evlog_fuzz -x) as the consumer for SOAK_SECONDS, its
#    mix with mremap of any part of a mapping and RESIZE, each mapping
#    checked page by page after every call, while, one a second in turn:
#    a resize (1-6 per CPU) and the highest CPU offline, then online, each
#    from a control open. A resize may wait for the fuzzer's mappings and
#    end with EBUSY, or be refused while retired buffers it maps hold
#    indices (EINVAL); nothing else may fail, nor may the fuzzer. Then,
#    with everything unmapped, RESIZE to the count, to 1 and back work at
#    once and leave nothing retired (hv_evlog_fuzz -n 0).
#
# kmemleak, lockdep and KFENCE are judged by the harness after the boot.
. "$(dirname "$0")/ktap.sh"
. "$(dirname "$0")/capture_lib.sh"
needs_own_load
[ -x "$TOOL" ] || { echo "1..0 # SKIP $TOOL not present"; exit 4; }
CYCLES=${SOAK_CYCLES:-20}
SECONDS_=${SOAK_SECONDS:-10}
RATE=${SOAK_RATE:-20000}
T=/tmp/hv-evlog-soak
D=/sys/kernel/debug/hv_evlog
mkdir -p $T
echo "1..8"
ncpu=$(nproc --all 2>/dev/null || nproc)
c=$((ncpu - 1))
# shellcheck disable=SC2012 # sysfs names the CPU's node nodeN: nothing to mangle
first_node=$(ls -d /sys/devices/system/cpu/cpu0/node* | sed 's/.*node//')

# 1: load/unload cycles.
i=0
while [ $i -lt "$CYCLES" ]; do
	case $((i % 4)) in
	0) set -- type=local mode=regular buffer_pages=1 ;;
	1) set -- type=global mode=circular buffer_pages=16 buffers_per_cpu=3 ;;
	2) set -- type=local mode=circular buffer_pages=64 "nodes=$first_node" ;;
	3) set -- type=local mode=regular buffer_pages=8 max_buffers=$((6 * ncpu)) ;;
	esac
	insmod "$MOD" backend=sim "$@" 2>$T/insmod.err || break
	rmmod hv_evlog || break
	i=$((i + 1))
done
[ "$i" = "$CYCLES" ]
result $? "$CYCLES insmod/rmmod cycles over 4 parameter sets" "stopped after $i at $*: $(cat $T/insmod.err)"

# 2-5: the capture under changes.
pages=8
bsize=$((pages * 4096))
insmod "$MOD" backend=sim buffer_pages=$pages max_buffers=$((6 * ncpu)) "sim_rate=$RATE"
result $? "insmod sim_rate=$RATE max_buffers=$((6 * ncpu))" "$(dmesg | tail -2)"
$TOOL capture --check --format binary -o /dev/null 2>$T/capture.err &
cap=$!
wait_mapped
online=/sys/devices/system/cpu/cpu$c/online
end=$(($(date +%s) + SECONDS_))
k=0
bad=
while [ "$(date +%s)" -lt $end ]; do
	case $((k % 5)) in
	0) $TOOL flush || bad="$bad flush@$k" ;;
	1) if [ $((k % 2)) = 0 ]; then s=hc,vp; else s=all; fi
	   $TOOL sources $s >/dev/null || bad="$bad sources@$k" ;;
	2) $TOOL resize $((k % 6 + 1)) >/dev/null || bad="$bad resize@$k" ;;
	3) [ ! -w $online ] || echo 0 >$online || bad="$bad offline@$k" ;;
	4) [ ! -w $online ] || echo 1 >$online || bad="$bad online@$k" ;;
	esac
	kill -0 $cap 2>/dev/null || { bad="$bad capture-died@$k"; break; }
	k=$((k + 1))
	sleep 1
done
[ -w $online ] && echo 1 >$online
check "$k changes under load (flush, sources, resize, CPU $c off/on)" "" "$bad"
$TOOL sources none >/dev/null && $TOOL flush
sleep 1
kill -INT $cap
wait $cap
rc=$?
grep -q 'check: .*: ok$' $T/capture.err && [ $rc = 0 ]
result $? "capture --check: sequences, counters and completions = releases + pending + dropped" \
	"exit $rc: $(cat $T/capture.err)"
grep 'events=' $T/capture.err | grep -q ' malformed=0 '
result $? "no malformed buffer: $(grep -h 'events=\|check:' $T/capture.err | tr '\n' ' ')" \
	"$(cat $T/capture.err)"
echo "# $(grep -h 'events=\|check:\|table changed' $T/capture.err | tr '\n' ' ')"

# 6-8: the fuzzer under changes.
FUZZ=$(dirname "$0")/hv_evlog_fuzz
bad=
busy=0
k=0
$TOOL sources all >/dev/null || bad=" sources"
"$FUZZ" -x -n 1000000000 -t "$SECONDS_" -j 4 >$T/fuzz.out 2>&1 &
fz=$!
end=$(($(date +%s) + SECONDS_))
while [ "$(date +%s)" -lt $end ] && kill -0 $fz 2>/dev/null; do
	case $((k % 3)) in
	0) if ! $TOOL resize $((k % 6 + 1)) >/dev/null 2>$T/resize.err; then
		# The group's reasons: the tool says which.
		if grep -q 'still mapped\|not yet released\|exceed the group maximum' $T/resize.err; then
			busy=$((busy + 1))
		else
			bad="$bad resize@$k: $(cat $T/resize.err)"
		fi
	   fi ;;
	1) [ ! -w $online ] || echo 0 >$online || bad="$bad offline@$k" ;;
	2) [ ! -w $online ] || echo 1 >$online || bad="$bad online@$k" ;;
	esac
	k=$((k + 1))
	sleep 1
done
[ -w $online ] && echo 1 >$online
wait $fz
rc=$?
sed 's/^/# /; s/^# # /# /' $T/fuzz.out
check "$k changes beside the fuzzer (resize, CPU $c off/on; $busy resizes refused: mapped or retired)" \
	"" "$bad"
result $rc "the fuzzer as the consumer meanwhile ($(sed -n 's/^# fuzz: //p' $T/fuzz.out))" \
	"exit $rc: $(grep -m3 FAIL $T/fuzz.out)"
"$FUZZ" -n 0 -j 1 >$T/end.out 2>&1
rc=$?
sed -n 's/^# end: /# end: /p; /FAIL/p' $T/end.out
result $rc "afterwards, nothing mapped: RESIZE to the count, to 1 and back at once, nothing retired" \
	"exit $rc: $(grep -m3 FAIL $T/end.out)"
rmmod hv_evlog
[ $fails = 0 ]
