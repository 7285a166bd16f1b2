#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Memory offline of a node that holds buffers
# (/sys/devices/system/memory/memoryN/state). Buffer pages are unmovable
# allocations, so the kernel itself refuses to offline a block holding one
# (EBUSY); the buffers stay where they are, untouched (their header says
# the same buffer index and size before and after), and the group unloads
# cleanly. Blocks without buffer pages are not tested: whether they go
# offline depends on what else the kernel put there. Skipped (as a skip)
# where the guest cannot offline memory at all.
. "$(dirname "$0")/ktap.sh"
needs_own_load
D=/sys/kernel/debug/hv_evlog
M=/sys/devices/system/memory
if [ ! -r $M/block_size_bytes ] || ! ls $M/memory*/state >/dev/null 2>&1; then
	echo "1..0 # SKIP no memory hotplug in this kernel ($M)"
	exit 4
fi
echo "1..4"
block=$((0x$(cat $M/block_size_bytes)))
insmod "$MOD" backend=sim buffer_pages=16
result $? "insmod" "$(dmesg | tail -2)"

# The blocks holding buffer pages: "block" per line, sorted, unique.
blocks=$(tail -n +2 $D/pfns | while read -r _ pfns; do
	for p in $pfns; do echo $(($((p)) * 4096 / block)); done
done | sort -un)
headers() { tail -n +2 $D/headers | awk '{ print $1, $2 }' | tr '\n' ' '; }
before=$(tail -n +2 $D/pfns | md5sum)
state_before=$(tail -n +2 $D/buffers | awk '{ print $1, $3 }' | tr '\n' ' ')
tried=0
refused=0
detail=
for b in $blocks; do
	f=$M/memory$b/state
	[ -w "$f" ] || continue
	[ "$(cat "$f")" = online ] || continue
	tried=$((tried + 1))
	if echo offline >"$f" 2>/dev/null; then
		detail="$detail memory$b went offline;"
		echo online >"$f"
	else
		refused=$((refused + 1))
	fi
done 2>/dev/null
if [ $tried = 0 ]; then
	skip "offline of a block holding buffer pages" "no such block can be offlined here ($blocks)"
	skip "buffers unchanged" "nothing was offlined"
else
	[ $refused = $tried ]
	result $? "the kernel refuses to offline all $tried blocks holding buffer pages" "$detail"
	[ "$(tail -n +2 $D/pfns | md5sum)" = "$before" ] &&
		[ "$(tail -n +2 $D/buffers | awk '{ print $1, $3 }' | tr '\n' ' ')" = "$state_before" ]
	result $? "buffers stay on the same pages and nodes" "$(headers)"
fi
rmmod hv_evlog
result $? "rmmod" ""
[ $fails = 0 ]
