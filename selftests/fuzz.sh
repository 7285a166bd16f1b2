#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ioctl/mmap fuzzer (hv_evlog_fuzz.c says what it calls
# and what it checks), once in regular and once in circular mode, each with
# the simulator writing fast (sim_rate=20000 into one-page buffers: one
# fills in about 6 ms) so that buffers complete, chain, get released and,
# in circular mode, restarted while the calls run. Among the calls: mremap
# of any part of a mapping and RESIZE from control files, each mapping
# checked page by page after every call (its own buffer, or SIGBUS for
# one a RESIZE retired); at its end the fuzzer checks that RESIZE to the
# load's count, to 1 and back work at once and leave nothing retired.
# After each run: the module printed nothing but the resizes' own lines,
# clean 'hv-evlog capture' runs deliver exact event counts on the same
# load, and rmmod succeeds. The harness checks the console (BUG, WARNING,
# lockdep, KFENCE) and kmemleak.
#
# The capture afterwards is of two kinds. Live (regular mode): sources on,
# exactly 10000 events while the simulator writes. Still (both modes):
# sources off and every buffer flushed, the capture must deliver exactly
# the events the complete buffers' headers hold (debugfs headers: 32-byte
# entries), all buffers, none dropped or malformed. Circular mode gets only
# the still one: there the simulator restarts complete buffers under a live
# capture, and hv-evlog capture stops at the first RELEASE that finds its
# buffer restarted (EINVAL), with or without the fuzzer.
#
# FUZZ_CALLS (default 10000) and FUZZ_SECONDS (default 60) bound each run,
# whichever ends first (the suite's boot and scripts/soak.sh set both).
# FUZZ_SEED replays a seed (each run prints its own first); FUZZ_THREADS
# (default 4).
. "$(dirname "$0")/ktap.sh"
needs_own_load
[ -x "$TOOL" ] || { echo "1..0 # SKIP $TOOL not present"; exit 4; }
FUZZ=$(dirname "$0")/hv_evlog_fuzz
FUZZ_CALLS=${FUZZ_CALLS:-10000}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_THREADS=${FUZZ_THREADS:-4}
T=$(mktemp -d)
echo "1..11"

# log_lines: the module's kernel log lines. Every refusal is an errno
# alone: the fuzzer's calls leave no line but a resize's summary and its
# refusal of a count (0, or past the maximum with the retired buffers
# still mapped, changing nothing), which are not counted; one of a resize
# that timed out or failed a hypercall is.
log_lines() {
	dmesg | grep 'hv_evlog: ' | grep -Ecv \
		-e 'hv_evlog: resize: [0-9]+ buffers per CPU: [0-9]+ created, [0-9]+ taken out, [0-9]+ in the group \([0-9]+ retired earlier deleted\)$' \
		-e 'hv_evlog: HV_EVLOG_IOC_RESIZE [0-9]+: 0 buffers per CPU: every served CPU needs one$' \
		-e 'hv_evlog: HV_EVLOG_IOC_RESIZE [0-9]+: [0-9]+ per CPU x [0-9]+ CPUs = [0-9]+ buffers( \(\+[0-9]+ of CPUs not served\))? exceed the group maximum of [0-9]+ \(max_buffers at load\); at most [0-9]+ per CPU$'
}

# fuzz_mode PARAMS...: one load, one fuzzer run, the captures and the
# unload; 6 results in regular mode, 5 in circular.
fuzz_mode() {
	mode=${1#mode=}
	insmod "$MOD" backend=sim sim_rate=20000 "$@"
	rc=$?
	result $rc "insmod sim_rate=20000 $*" "exit $rc"
	if [ $rc != 0 ]; then
		for t in fuzzer "kernel log" $([ "$mode" = regular ] && echo live) capture rmmod; do
			result 1 "$mode: $t" "not run: insmod failed"
		done
		return
	fi
	lines0=$(log_lines)
	"$FUZZ" ${FUZZ_SEED:+-s "$FUZZ_SEED"} -n "$FUZZ_CALLS" -t "$FUZZ_SECONDS" \
		-j "$FUZZ_THREADS" > "$T/fuzz.out" 2>&1
	rc=$?
	sed 's/^/# /; s/^# # /# /' "$T/fuzz.out"
	result $rc "$mode: fuzzer ($(sed -n 's/^# fuzz: //p' "$T/fuzz.out"))" \
		"exit $rc: $(grep -m3 FAIL "$T/fuzz.out")"
	check "$mode: no kernel log line from hv_evlog during the fuzzer but the resizes' own" \
		"$lines0" "$(log_lines)"
	if [ "$mode" = regular ]; then
		# The fuzzer may have left any mask; a capture needs events.
		$TOOL sources all > /dev/null 2>&1 &&
			$TOOL capture --count 10000 --json --duration 60 > "$T/events.json" 2> "$T/cap.err"
		rc=$?
		lines=$(grep -c '^{"cpu":[0-9]*,"ts":[0-9]*,"type":[0-9]*,"size":[0-9]*,"context":[0-9]*}$' \
			"$T/events.json")
		[ $rc = 0 ] && [ "$lines" = 10000 ] &&
			grep -q '^hv-evlog: events=10000 buffers=[0-9]* lost=[0-9]* dropped=0 malformed=0 ' "$T/cap.err"
		result $? "$mode: afterwards a live capture of exactly 10000 events, none dropped or malformed" \
			"exit $rc, $lines event lines: $(tail -1 "$T/cap.err")"
	fi
	$TOOL sources none > "$T/still.err" 2>&1 && $TOOL flush >> "$T/still.err" 2>&1
	rc=$?
	want=$(awk '$2 == "complete" { e += $4 / 32; b++ } $2 == "in-use" { u++ }
		END { printf "events=%d buffers=%d in-use=%d", e, b, u }' \
		/sys/kernel/debug/hv_evlog/headers)
	echo "# $mode: the headers hold $want"
	$TOOL capture --duration 2 --json > "$T/events.json" 2>> "$T/still.err"
	rc="$rc/$?"
	got=$(sed -n 's/^hv-evlog: \(events=[0-9]* buffers=[0-9]*\) lost=[0-9]* \(dropped=0 malformed=0\) .*/\1 in-use=0 \2/p' \
		"$T/still.err")
	check "$mode: afterwards, sources off and all flushed, a capture delivers what the headers hold" \
		"$want dropped=0 malformed=0 (exit 0/0)" "$got (exit $rc)"
	rmmod hv_evlog
	rc=$?
	result $rc "$mode: rmmod after the fuzzer" "exit $rc"
}

# Regular mode: the tracker's records, releases and flushes; circular: the
# hypervisor also restarts complete buffers under the reader.
fuzz_mode mode=regular buffer_pages=1
fuzz_mode mode=circular buffer_pages=1
rm -rf "$T"
[ $fails -eq 0 ]
