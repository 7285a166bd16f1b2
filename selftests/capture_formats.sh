#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Captures other tools open: a 10000-event capture written as
# the binary capture file, converted to ETL and to a chrome-trace, plus an
# ETL file captured directly; `report` of both files prints the capture's
# summary line; hand-corrupted ETL files (a truncated buffer, an Offset past
# a buffer's end) give convert and report exit 1 with an error naming the
# buffer and its byte offset, never a panic; `stats` shows the lifetime
# counters of the capture that is over.
#
# The guest has no Python: the files go to the host (a tar on the VM's
# data port, $HV_EVLOG_DATA, when present), where scripts/check-captures.py
# reads the ETL files with dissect.etl and etl-parser and the trace with
# Python's json, against the events 'hv-evlog decode' finds in the binary
# capture.
. "$(dirname "$0")/ktap.sh"
needs_own_load
T=/tmp/hv-evlog-captures
rm -rf $T
mkdir -p $T/out
O=$T/out
echo "1..14"

insmod "$MOD" backend=sim
result $? "insmod backend=sim" "exit $?"

# 2-3: the capture, and its summary without the seconds.
$TOOL capture --count 10000 --format binary -o $O/capture.bin --duration 120 2>$T/capture.err
result $? "capture --count 10000 --format binary" "$(cat $T/capture.err)"
summary=$(sed -n 's/^hv-evlog: \(events=.* malformed=[0-9]*\) seconds=.*/\1/p' $T/capture.err)
echo "$summary" >$O/summary
case "$summary" in
"events=10000 buffers="*" lost=0 dropped=0 malformed=0") result 0 "summary: 10000 events" ;;
*) result 1 "summary: 10000 events" "$(cat $T/capture.err)" ;;
esac

# 4-5: converted; the format from the extension. (A file has no dropped
# count of the device's: convert's summary leaves it out.)
nodrop=$(echo "$summary" | sed 's/ dropped=[0-9]*//')
$TOOL convert $O/capture.bin $O/capture.etl 2>$T/etl.err &&
	grep -q "^hv-evlog: $nodrop " $T/etl.err
result $? "convert to .etl: the same summary" "$(cat $T/etl.err)"
$TOOL convert $O/capture.bin $O/capture.json 2>$T/trace.err &&
	grep -q "^hv-evlog: $nodrop " $T/trace.err &&
	[ "$(head -c 24 $O/capture.json)" = '{"displayTimeUnit":"ns",' ]
result $? "convert to .json: a trace with the same summary" "$(cat $T/trace.err)"

# 6-7: report of either file: the capture's summary line.
for f in capture.bin capture.etl; do
	$TOOL report $O/$f >$T/report 2>&1
	rc=$?
	[ $rc = 0 ] && grep -qx "summary     $summary" $T/report
	result $? "report $f prints the capture's summary" "exit $rc: $(cat $T/report)"
done

# 8: an ETL file captured directly, decoded back.
$TOOL capture --count 2000 --format etl -o $O/direct.etl --duration 60 2>$T/direct.err &&
	[ "$($TOOL decode $O/direct.etl 2>/dev/null | wc -l)" -eq 2000 ]
result $? "capture --format etl of 2000 events decodes to 2000" "$(cat $T/direct.err)"

# 9-12: hand-corrupted ETL files. Buffers are twice the module's buffer
# size; buffer 2 starts at 2 * that, its Offset 48 bytes in.
bsize=$($TOOL info --json | sed -n 's/.*"buffer_size":\([0-9][0-9]*\).*/\1/p')
etl=$((2 * bsize))
head -c $((3 * etl + 100)) $O/capture.etl >$T/truncated.etl
want="hv-evlog: ETL buffer 3 (at byte offset $((3 * etl))): truncated: 100 of its $etl bytes present"
for cmd in report "convert --format text"; do
	# shellcheck disable=SC2086,SC2046 # $cmd: a command and its option; $(...): convert's output file, or nothing
	$TOOL $cmd $T/truncated.etl $([ "$cmd" = report ] || echo $T/x.txt) >/dev/null 2>$T/err
	rc=$?
	[ $rc = 1 ] && grep -q "^$want" $T/err
	result $? "${cmd%% *} of a truncated ETL file: exit 1 naming buffer 3 and byte $((3 * etl))" "exit $rc: $(cat $T/err)"
done
cp $O/capture.etl $T/offset.etl
# Offset = the buffer size + 8 (little endian, 4 bytes) at byte 2 * etl + 48.
off=$((etl + 8))
printf '%b' "$(printf '\\0%03o\\0%03o\\0%03o\\0%03o' $((off & 255)) $((off >> 8 & 255)) $((off >> 16 & 255)) $((off >> 24)))" |
	dd of=$T/offset.etl bs=1 seek=$((2 * etl + 48)) conv=notrunc 2>/dev/null
want="hv-evlog: ETL buffer 2 (at byte offset $((2 * etl))): Offset $off (at byte $((2 * etl + 48))) is outside the buffer"
for cmd in report "convert --format text"; do
	# shellcheck disable=SC2086,SC2046 # as above
	$TOOL $cmd $T/offset.etl $([ "$cmd" = report ] || echo $T/x.txt) >/dev/null 2>$T/err
	rc=$?
	[ $rc = 1 ] && grep -q "^$want" $T/err
	result $? "${cmd%% *} of an ETL file with a bad Offset: exit 1 naming buffer 2 and byte $((2 * etl + 48))" "exit $rc: $(cat $T/err)"
done

# 13: stats after the captures: its own open released nothing (its first
# scan may report buffers completed since); over the module's lifetime the
# buffers both captures released (at least their buffer counts) and more
# completions than this open's.
$TOOL stats >$T/stats 2>&1
col() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' $T/stats; }
buffers=$(echo "$summary" | sed -n 's/.* buffers=\([0-9]*\) .*/\1/p')
grep -q '^ *this open module lifetime$' $T/stats &&
	[ "$(col releases 2)" = 0 ] && [ "$(col flushes 2)" = 0 ] &&
	[ "$(col releases 3)" -gt "${buffers:-0}" ] &&
	[ "$(col completions 3)" -gt "$(col completions 2)" ]
result $? "stats: the module's lifetime counters hold the captures' releases, this open's none" "$(cat $T/stats)"

# 14: the files to the host, for the checks that need Python.
if [ -n "$HV_EVLOG_DATA" ] && [ -c "$HV_EVLOG_DATA" ]; then
	stty -F "$HV_EVLOG_DATA" raw -echo 2>/dev/null
	tar -czf - -C $O . >"$HV_EVLOG_DATA"
	result $? "captures written to $HV_EVLOG_DATA for the host's checks" "exit $?"
else
	skip "captures written for the host's checks" "no data port (HV_EVLOG_DATA)"
fi

rmmod hv_evlog
rm -rf $T
[ $fails -eq 0 ]
