#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of scripts/bench.sh: every measurement in turn,
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
# shellcheck disable=SC2012 # counts the sysfs nodeN directories, names unused
nodes=$(ls -d /sys/devices/system/node/node* | wc -l)
echo "BENCH {\"m\":\"env\",\"kernel\":\"$(uname -r)\",\"cpus\":$(nproc),\"nodes\":$nodes,\"quick\":${BENCH_QUICK:-0}}"
rmmod hv_evlog 2> /dev/null
# The smoke form (BENCH_QUICK=1) runs every measurement once, tiny; the
# full form has enough buffers of each size for several MiB per path.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	n16=2 n64=1 n512=1 zeroloss="1 1" samples=50 seconds=1 rounds=1
else
	n16=128 n64=32 n512=16 zeroloss="10 4" samples=10000 seconds=10 rounds=16
fi
run consume "$KO" 16 $n16
run consume "$KO" 64 $n64
run consume "$KO" 512 $n512
for p in map copy; do
	for t in one half; do
		# shellcheck disable=SC2086 # two arguments: SECONDS STEPS
		run zeroloss "$KO" $p $t $zeroloss
	done
done
for m in messages scan pipe; do
	run latency "$KO" $m $samples
done
run setup "$KO" 16,64,256,512
run idle "$KO" 16 $seconds
run idle "$KO" 512 $seconds
run placement "$KO" $rounds
run memory "$KO"
[ "$failed" = 0 ]
