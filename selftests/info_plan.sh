#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The device's info (through hv-evlog info --json) says what debugfs's plan
# says: buffer count, and per buffer the CPU it serves, its proximity domain,
# the node of its pages and its mmap offset (index x buffer_size).
. "$(dirname "$0")/ktap.sh"
D=/sys/kernel/debug/hv_evlog
[ -x "$TOOL" ] || { echo "1..0 # SKIP hv-evlog not present"; exit 4; }
needs_own_load
echo "1..3"
insmod "$MOD" backend=sim buffer_pages=8 || { echo "not ok 1 insmod"; exit 1; }
json=$($TOOL info --json)
size=$(echo "$json" | sed -n 's/.*"buffer_size":\([0-9]*\).*/\1/p')
count=$(echo "$json" | sed -n 's/.*"buffer_count":\([0-9]*\).*/\1/p')
plan_count=$(tail -n +2 $D/plan | wc -l)
[ "$size" = 32768 ] && [ "$count" = "$plan_count" ] &&
	echo "ok 1 geometry: $count buffers of $size bytes" ||
	echo "not ok 1 geometry # buffer_size '$size' (want 32768), count '$count' (plan $plan_count)"
# index cpu pxm node offset, from the device and from the plan.
dev=$(echo "$json" | sed 's/{"index":/\n/g' | tail -n +2 |
	sed -n 's/^\([0-9]*\),"pxm":\([0-9]*\),"node":\([0-9]*\),"cpus":\[\([0-9]*\)\].*"mmap_offset":\([0-9]*\).*/\1 \4 \2 \3 \5/p')
want=$(tail -n +2 $D/plan | awk -v s="$size" '{ print $1, $2, $6, $5, $1 * s }')
# shellcheck disable=SC2086 # echo $dev, $want: their lines joined into one
[ -n "$dev" ] && [ "$dev" = "$want" ] && echo "ok 2 buffer table matches the plan" ||
	echo "not ok 2 buffer table matches the plan # device: $(echo $dev | head -c 300) plan: $(echo $want | head -c 300)"
rmmod hv_evlog && echo "ok 3 rmmod" || echo "not ok 3 rmmod"
