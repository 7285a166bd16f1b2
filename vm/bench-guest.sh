#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of scripts/bench.sh: every measurement of issue 15 in turn,
# each with its baseline from this same boot, printed by hv-evlog-bench as
# one 'BENCH {json}' line per figure for the host to collect. BENCH_QUICK=1
# runs each once with tiny sizes (the smoke form): the same lines, the same
# fields, no meaningful numbers.
B=/tests/hv-evlog-bench
KO=/lib/modules/hv_evlog.ko
failed=0
run() {
	echo "# hv-evlog-bench $*"
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$B" "$@" || failed=$((failed + 1))
	echo "# took $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s"
}
nodes=$(ls -d /sys/devices/system/node/node* | wc -l)
echo "BENCH {\"m\":\"env\",\"kernel\":\"$(uname -r)\",\"cpus\":$(nproc),\"nodes\":$nodes,\"quick\":${BENCH_QUICK:-0}}"
rmmod hv_evlog 2> /dev/null
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	run consume "$KO" 16 2
	run consume "$KO" 64 1
	run consume "$KO" 512 1
	for p in map copy; do
		for t in one half; do
			run zeroloss "$KO" $p $t 1 0
		done
	done
	for m in messages scan pipe; do
		run latency "$KO" $m 50
	done
	run setup "$KO" 16,64,256,512
	run idle "$KO" 16 1
	run idle "$KO" 512 1
	run placement "$KO" 1
	run memory "$KO"
else
	# Enough buffers of each size for several MiB per path.
	run consume "$KO" 16 128
	run consume "$KO" 64 32
	run consume "$KO" 512 4
	for p in map copy; do
		for t in one half; do
			run zeroloss "$KO" $p $t 10 4
		done
	done
	for m in messages scan pipe; do
		run latency "$KO" $m 10000
	done
	run setup "$KO" 16,64,256,512
	run idle "$KO" 16 10
	run idle "$KO" 512 10
	run placement "$KO" 16
	run memory "$KO"
fi
[ "$failed" = 0 ]
