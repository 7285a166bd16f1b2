#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# hv-evlog, the userspace tool, against the module's simulated backend:
# exit codes and messages (no module: 2, busy: 4, not root: 3), info --json,
# the default group maximum (4 times the planned count) leaving room for a
# resize to grow, one past it refused with the numbers info gives,
# a 10000-event JSON capture checked event by event, a clean stop on SIGTERM
# and a binary capture read back with 'decode', whose text lines spell the
# event types as 'report' does.
#
# Not root: the node is 0600 root:root, so an unprivileged open gets EACCES.
# busybox su (as root it asks no password) runs the tool as nobody (65534);
# an /etc/passwd entry for nobody is added when the initramfs has none. The
# tool has no privilege-dropping option of its own: what is tested is a real
# unprivileged process opening the real node.
. "$(dirname "$0")/ktap.sh"
needs_own_load
[ -x "$TOOL" ] || { echo "1..0 # SKIP $TOOL not present"; exit 4; }
T=/tmp/hv-evlog-cli
mkdir -p $T
echo "1..19"

# 1-2: without the module.
rmmod hv_evlog 2>/dev/null
$TOOL info >$T/out 2>$T/err
rc=$?
[ $rc = 2 ]; result $? "info without the module exits 2" "exit $rc"
grep -qx 'hv-evlog: /dev/hv_evlog not found: load the module (insmod hv_evlog.ko backend=sim to test)' $T/err
result $? "info without the module says to load it" "$(cat $T/err)"

# 3-4: loaded, simulated.
insmod "$MOD" backend=sim
rc=$?
result $rc "insmod backend=sim" "exit $rc"
$TOOL info --json >$T/info.json 2>$T/err
rc=$?
count=$(sed -n 's/.*"buffer_count":\([0-9][0-9]*\).*/\1/p' $T/info.json)
bsize=$(sed -n 's/.*"buffer_size":\([0-9][0-9]*\).*/\1/p' $T/info.json)
[ $rc = 0 ] && [ "${count:-0}" -gt 0 ] && [ "${bsize:-0}" -gt 72 ]
result $? "info --json reports buffer_count and buffer_size" "exit $rc count=$count size=$bsize: $(cat $T/info.json $T/err)"
bsize=${bsize:-4096}

# 5: one more buffer per CPU than the group maximum holds: refused by the
# tool with the numbers (those of the module's own kernel log line), the
# table unchanged. The served CPUs are those of the buffers in info.
max=$(sed -n 's/.*"max_buffers":\([0-9][0-9]*\).*/\1/p' $T/info.json)
cpus=$(grep -o '"cpus":\[[0-9,]*\]' $T/info.json | sort -u | wc -l)
cpus=$((cpus))
per=$((${max:-0} / (cpus + (cpus == 0)) + 1))
if [ "$cpus" = 0 ] || [ "$per" -gt 512 ]; then
	skip "resize past the maximum: refused with the numbers" \
		"$cpus CPUs, at most ${max:-?} buffers: no count from 1 to 512 is past it"
else
	$TOOL resize $per >$T/out 2>$T/err
	rc=$?
	$TOOL info --json >$T/after.json 2>>$T/err
	want="hv-evlog: resize $per: $per per CPU x $cpus CPUs = $((per * cpus)) buffers exceed the group maximum of $max (max_buffers at load); at most $((max / cpus)) per CPU"
	[ $rc = 1 ] && [ "$(cat $T/err)" = "$want" ] && [ ! -s $T/out ] &&
		grep -q "\"buffer_count\":$count," $T/after.json
	result $? "resize $per past the maximum of $max for $cpus CPUs: exit 1 with the numbers" \
		"exit $rc: '$(cat $T/err)', want '$want'; $(cat $T/out)"
fi

# 6: loaded with max_buffers=0, the group maximum is 4 times the planned
# count (at most 512): a resize grows each CPU by one buffer (the group
# keeps them for the tests below).
room=$((4 * ${count:-0}))
[ $room -gt 512 ] && room=512
grow=$((${count:-0} / (cpus + (cpus == 0)) + 1))
if [ "$cpus" = 0 ] || [ $((grow * cpus)) -gt $room ]; then
	skip "resize $grow within the default maximum" "$cpus CPUs, $count buffers"
else
	out=$($TOOL resize $grow 2>&1)
	rc=$?
	check "max_buffers=0 leaves room: resize $grow" "0: buffers $((grow * cpus)) of at most $room" \
		"$rc: $(echo "$out" | sed 's/, generation [0-9]*//')"
fi

# 7-8: source groups by Microsoft's names; the default is every group, and
# bit 0 ("extended format") is refused before the module is asked.
$TOOL sources >$T/src 2>&1
grep -qx 'sources 0x3fffff00 (bm,dm,hc,im,ic,ob,pt,vp,synic,synic_ti,am_gva,am,val,vm,sch,th,ti,ke,mm,profiler,usch,generic)' $T/src
result $? "sources: the default is every group" "$(cat $T/src)"
$TOOL sources 0x3 >$T/src 2>&1
rc=$?
$TOOL sources hc,vp >>$T/src 2>&1 && $TOOL sources all >/dev/null 2>&1
[ $rc = 64 ] && grep -q 'sets bit 0, which means extended format' $T/src &&
	grep -qx 'sources 0x8400 (hc,vp)' $T/src
result $? "sources: 0x3 refused (bit 0), hc,vp set as 0x8400" "exit $rc: $(cat $T/src)"

# 9-12: 10000 events as JSON lines, checked one by one.
ncpu=$(nproc)
$TOOL capture --count 10000 --json --duration 120 >$T/events.json 2>$T/capture.err
rc=$?
result $rc "capture --count 10000 --json exits 0" "exit $rc: $(cat $T/capture.err)"
lines=$(wc -l <$T/events.json)
[ "$lines" -eq 10000 ]; result $? "capture wrote 10000 event lines" "$lines lines"
awk -v ncpu="$ncpu" -v bsize="$bsize" '
function bad(why) {
	errors++
	if (errors <= 5) print "line " NR ": " why ": " $0 > "/dev/stderr"
}
{
	if ($0 !~ /^\{"cpu":[0-9]+,"ts":[0-9]+,"type":[0-9]+,"size":[0-9]+,"context":[0-9]+\}$/) {
		bad("not an event line")
		next
	}
	line = $0
	gsub(/[{}"]/, "", line)
	split(line, kv, /[:,]/)
	cpu = kv[2] + 0; ts = kv[4] + 0; size = kv[8] + 0
	if (cpu >= ncpu) bad("cpu out of range 0-" ncpu - 1)
	if (size < 16 || size > bsize - 72) bad("size outside 16-" bsize - 72)
	if ((cpu in last) && ts < last[cpu]) bad("time stamp before " last[cpu] " on cpu " cpu)
	last[cpu] = ts
}
END { exit errors > 0 }' $T/events.json 2>$T/awk.err
result $? "every event: cpu < $ncpu, 16 <= size <= $((bsize - 72)), per-CPU time stamps monotonic" "$(cat $T/awk.err)"
grep -q '^hv-evlog: events=10000 buffers=[0-9]* lost=0 dropped=0 malformed=0 ' $T/capture.err
result $? "summary: 10000 events, none lost, dropped or malformed" "$(tail -1 $T/capture.err)"

# 13-14: a second consumer while a capture runs; the capture stops on SIGTERM.
# Wait until the capture holds the device by looking at its open files, not
# by opening the device (a probe that opens it could win the one consumer
# slot and make the capture fail instead). The previous consumer's slot is
# freed just after it exits, so a capture that lost that race is restarted.
$TOOL capture --duration 60 >/dev/null 2>$T/bg.err &
bg=$!
i=0
# shellcheck disable=SC2010 # ls -l shows where each of its fds points
while [ $i -lt 100 ] && ! ls -l /proc/$bg/fd 2>/dev/null | grep -q hv_evlog; do
	if ! grep -q '^State:[[:space:]]*[RSD]' /proc/$bg/status 2>/dev/null; then
		wait $bg
		$TOOL capture --duration 60 >/dev/null 2>$T/bg.err &
		bg=$!
	fi
	usleep 50000
	i=$((i + 1))
done
$TOOL info >/dev/null 2>$T/busy.err
rc=$?
[ $rc = 4 ] && grep -qx 'hv-evlog: device busy: another consumer has it open' $T/busy.err
result $? "a second consumer exits 4: device busy" "exit $rc: $(cat $T/busy.err)"
kill -TERM $bg
wait $bg
rc=$?
[ $rc = 0 ] && grep -q '^hv-evlog: events=[0-9]* buffers=' $T/bg.err
result $? "capture ends cleanly on SIGTERM with its summary" "exit $rc: $(cat $T/bg.err)"

# 15: not root.
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
if [ "$(su -s /bin/sh nobody -c 'id -u' 2>/dev/null)" = 65534 ]; then
	su -s /bin/sh nobody -c "$TOOL info" >/dev/null 2>$T/perm.err
	rc=$?
	[ $rc = 3 ] && grep -qx 'hv-evlog: permission denied: run as root' $T/perm.err
	result $? "not root: exits 3, permission denied" "exit $rc: $(cat $T/perm.err)"
else
	skip "not root: exits 3, permission denied" "su cannot run commands as nobody here"
fi

# 16: binary capture, read back.
$TOOL capture --count 100 --format binary --output $T/cap.bin --duration 60 2>$T/bin.err &&
	[ "$($TOOL decode $T/cap.bin 2>/dev/null | wc -l)" -eq 100 ]
result $? "binary capture of 100 events decodes to 100 lines" "$(cat $T/bin.err)"

# 17: one spelling of an event type: the types of decode's text lines
# (type=0xNNNN) are the ones report lists, each as four hex digits.
lines_types=$($TOOL decode $T/cap.bin 2>/dev/null | sed -n 's/.* type=\([^ ]*\) .*/\1/p' | sort -u | tr '\n' ' ')
report_types=$($TOOL report $T/cap.bin 2>/dev/null | sed '1,/^type  *events$/d' | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$lines_types" = "$report_types" ] && echo "$lines_types" | grep -Eqx '(0x[0-9a-f]{4} )+'
result $? "decode's text lines and report spell the event types alike ($lines_types)" \
	"text lines: '$lines_types', report: '$report_types'"

# 18
rmmod hv_evlog
rc=$?
result $rc "rmmod after the tool is done" "exit $rc"

# 19: circular mode with one-page buffers filled faster than they are
# read: the hypervisor restarts complete buffers under the reader. The
# capture skips a copy whose buffer restarted (overwritten=N), takes a
# refused RELEASE of a restarted buffer as nothing to hand back, and
# reaches its count.
insmod "$MOD" backend=sim mode=circular buffer_pages=1 sim_rate=20000 &&
	$TOOL capture --count 5000 --format json --duration 60 >$T/circ.json 2>$T/circ.err
rc=$?
[ $rc = 0 ] && [ "$(wc -l <$T/circ.json)" -eq 5000 ] &&
	grep -q '^hv-evlog: events=5000 buffers=[0-9]* lost=[0-9]* dropped=[0-9]* malformed=0' $T/circ.err
result $? "circular mode, reader behind: capture reaches 5000 events" "exit $rc: $(tail -2 $T/circ.err)"
rmmod hv_evlog
rm -rf $T
[ $fails -eq 0 ]
