#!/bin/sh
# Guest side of scripts/demo.sh: the NUMA layout, hv_evlog loaded on the
# simulated hypervisor with a capture started at once (nothing lost), its
# buffer table, the capture summarized and written as ETL and as a trace
# (both go to the host through the data port, where scripts/demo.sh says
# what opens them), a few decoded events, the counters, and a clean unload.
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }
note() { printf '\n# %s\n' "$*"; }
export PATH="/tests:$PATH"
show "cat /sys/devices/system/node/online"
show "for n in /sys/devices/system/node/node*; do echo \"\$n: CPUs \$(cat \$n/cpulist)\"; done"
mkdir -p /tmp/demo
# Logging starts at insmod: a reader that starts at once loses nothing (at
# this rate each CPU's two 1-page buffers hold over a second of events).
note "loading hv_evlog and capturing at once, so that no event is lost"
show "insmod /lib/modules/hv_evlog.ko backend=sim buffer_pages=1 sim_rate=200 &&
	hv-evlog capture --duration 10 --count 2000 --format binary -o /tmp/demo/capture.bin"
show "dmesg | grep hv_evlog"
show "hv-evlog info"
show "cat /sys/kernel/debug/hv_evlog/domains"
show "hv-evlog report /tmp/demo/capture.bin"
# The summary's own count (the per-CPU ones come later in the line).
lost=$(hv-evlog report --json /tmp/demo/capture.bin |
	sed -n 's/.*"ticks_per_second":[0-9]*,"events":[0-9]*,"buffers":[0-9]*,"lost":\([0-9]*\).*/\1/p')
[ "$lost" = 0 ] || note "demo: the capture above lost ${lost:-an unknown number of} events"
show "hv-evlog convert /tmp/demo/capture.bin /tmp/demo/capture.etl"
show "hv-evlog convert /tmp/demo/capture.bin /tmp/demo/capture.json"
note "the group logs on between captures, read or not: once its buffers are full, the" \
	"hypervisor counts the events it cannot write, and the next capture reports them (lost=)"
show "hv-evlog capture --duration 5 --count 12"
show "hv-evlog stats"
if [ -c "$HV_EVLOG_DATA" ]; then
	stty -F "$HV_EVLOG_DATA" raw -echo 2>/dev/null
	tar -czf - -C /tmp/demo capture.etl capture.json >"$HV_EVLOG_DATA"
fi
show "rmmod hv_evlog"
show "dmesg | grep hv_evlog | tail -1"
