# SPDX-License-Identifier: GPL-2.0
# Helpers for the tests that change the group while 'hv-evlog capture' runs
# (resize.sh, hotplug.sh); sourced after ktap.sh, not run. They set T
# (a scratch directory) and D (debugfs) first.
# shellcheck shell=sh

# start_capture: 'hv-evlog capture --json' into $T/events.json in the
# background (pid in $cap), once its mappings are there.
start_capture() {
	$TOOL capture --json -o "$T/events.json" 2>"$T/capture.err" &
	cap=$!
	wait_mapped
}

# mapped: the capture's mappings of the device, "first_buffer pages" each,
# sorted, from /proc/PID/maps (offset / buffer size, length / page size).
mapped() {
	grep hv_evlog /proc/"$cap"/maps 2>/dev/null | while read -r range _ off _; do
		# shellcheck disable=SC2154 # bsize: set by the test that sources this
		echo "$(($((0x$off)) / bsize)) $(($((0x${range#*-})) - $((0x${range%-*})) >> 12))"
	done | sort -n | tr '\n' ' '
}

# want_mapped: what the capture should map: each buffer in the rotation
# alone, at index x buffer_size.
want_mapped() {
	# shellcheck disable=SC2154 # pages: set by the test that sources this
	tail -n +2 "$D/buffers" | awk -v p="$pages" '$5 != "retired" { printf "%d %d\n", $1, p }' |
		sort -n | tr '\n' ' '
}

# wait_mapped: up to 5 s for the capture to follow the table.
wait_mapped() {
	i=0
	while [ $i -lt 50 ] && [ "$(mapped)" != "$(want_mapped)" ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# all_have_free: every CPU in the rotation has a free buffer to go on to,
# so that completing its buffer in use now loses nothing (debugfs buffers).
all_have_free() {
	tail -n +2 "$D/buffers" | awk '
	$5 != "retired" { cpu[$4] = 1; if ($5 == "free" || $5 == "ready") free[$4] = 1 }
	END { for (c in cpu) if (!(c in free)) exit 1 }'
}

# flushes N: N flushes of every CPU, at least 0.3 s apart, each from a
# control file beside the capture. Each waits (up to 5 s) until the capture
# has handed back enough for every CPU to have a free buffer: a busy host
# slows the guest's consumer, not the simulator's clock.
flushes() {
	k=0
	while [ $k -lt "$1" ]; do
		i=0
		while [ $i -lt 50 ] && ! all_have_free; do
			sleep 0.1
			i=$((i + 1))
		done
		$TOOL flush || return 1
		sleep 0.3
		k=$((k + 1))
	done
}

# stop_capture: stops logging, completes what is in use, stops the capture
# and checks (3 results) that nothing was lost, dropped or malformed, that
# the capture followed $1 table changes or more, and that every CPU's
# events (the simulator's context counts each event, lost ones included)
# run from 0 without a gap.
stop_capture() {
	$TOOL sources none >/dev/null && $TOOL flush
	sleep 1
	kill -INT "$cap"
	wait "$cap"
	rc=$?
	grep 'events=' "$T/capture.err" | grep -q ' lost=0 dropped=0 malformed=0 ' && [ $rc = 0 ]
	result $? "capture: nothing lost, dropped or malformed" \
		"exit $rc: $(cat "$T/capture.err"); debugfs buffers: $(cat "$D/buffers")"
	changes=$(sed -n 's/.*the buffer table changed \([0-9]*\) times.*/\1/p' "$T/capture.err")
	[ "${changes:-0}" -ge "$1" ]
	result $? "capture followed at least $1 table changes" "$(cat "$T/capture.err")"
	gaps=$(awk -F'[:,}]' '{
		cpu = $2; ctx = $10 + 0; lines++
		n[cpu]++; if (!(cpu in max) || ctx > max[cpu]) max[cpu] = ctx
		if (!(cpu in min) || ctx < min[cpu]) min[cpu] = ctx
	}
	END {
		for (c in n) if (min[c] != 0 || max[c] + 1 != n[c])
			print "cpu " c ": " n[c] " events, contexts " min[c] "-" max[c]
		if (lines == 0) print "no events"
	}' "$T/events.json")
	check "every CPU's events contiguous from context 0 ($(wc -l <"$T/events.json") events)" "" "$gaps"
}
