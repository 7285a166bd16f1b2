#!/bin/sh
# Guest side of scripts/demo.sh: the NUMA layout, hv_evlog loaded on the
# simulated hypervisor, its buffer table, a few seconds of decoded events,
# a capture summarized and written as ETL and as a trace (both go to the
# host through the data port, where scripts/demo.sh says what opens them),
# the counters, and a clean unload.
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }
export PATH="/tests:$PATH"
show "cat /sys/devices/system/node/online"
show "for n in /sys/devices/system/node/node*; do echo \"\$n: CPUs \$(cat \$n/cpulist)\"; done"
show "insmod /lib/modules/hv_evlog.ko backend=sim buffer_pages=1 sim_rate=500"
show "dmesg | grep hv_evlog"
show "hv-evlog info"
show "cat /sys/kernel/debug/hv_evlog/domains"
show "hv-evlog capture --duration 5 --count 12"
mkdir -p /tmp/demo
show "hv-evlog capture --duration 10 --count 2000 --format binary -o /tmp/demo/capture.bin"
show "hv-evlog report /tmp/demo/capture.bin"
show "hv-evlog convert /tmp/demo/capture.bin /tmp/demo/capture.etl"
show "hv-evlog convert /tmp/demo/capture.bin /tmp/demo/capture.json"
show "hv-evlog stats"
if [ -c "$HV_EVLOG_DATA" ]; then
	stty -F "$HV_EVLOG_DATA" raw -echo 2>/dev/null
	tar -czf - -C /tmp/demo capture.etl capture.json >"$HV_EVLOG_DATA"
fi
show "rmmod hv_evlog"
show "dmesg | grep hv_evlog | tail -1"
