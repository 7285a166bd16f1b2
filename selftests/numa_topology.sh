#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Checks that the guest's NUMA view equals what the VM runner asked for
# (/etc/hv-evlog/topology: "node cpus MiB distance-row" per line): online
# nodes, CPU list and distance row of each node, which nodes have memory or
# CPUs, and each node's present memory rounded up to whole MiB (firmware holes
# make the byte count a little smaller than asked, never larger).
TOPO=${TOPO:-/etc/hv-evlog/topology}
SYS=/sys/devices/system/node
[ -r "$TOPO" ] || { echo "1..0 # SKIP no $TOPO (runs in the hv_evlog VM)"; exit 4; }

. "$(dirname "$0")/ktap.sh"

# Joins ids into the kernel's list syntax (0-2,4).
to_list() {
	awk 'BEGIN { RS = " "; out = "" }
	     /^[0-9]+$/ { v = $1 + 0
	       if (start == "") { start = v; prev = v; next }
	       if (v == prev + 1) { prev = v; next }
	       out = out sep (start == prev ? start : start "-" prev); sep = ","
	       start = v; prev = v }
	     END { if (start != "") out = out sep (start == prev ? start : start "-" prev); print out }'
}

# Present pages per node from /proc/zoneinfo, in MiB rounded up.
present_mib() {
	awk -v node="$1" '$1 == "Node" { cur = $2 + 0 } $1 == "present" && cur == node { p += $2 }
	     END { print int((p * 4096 + 1048575) / 1048576) }' /proc/zoneinfo
}

nodes=$(awk '{print $1}' "$TOPO" | tr '\n' ' ')
memnodes=$(awk '$3 > 0 {print $1}' "$TOPO" | tr '\n' ' ')
cpunodes=$(awk '$2 != "-" {print $1}' "$TOPO" | tr '\n' ' ')
echo "1..$((3 + 3 * $(wc -l < "$TOPO")))"
check "online nodes" "$(echo "$nodes" | to_list)" "$(cat $SYS/online)"
check "nodes with memory" "$(echo "$memnodes" | to_list)" "$(cat $SYS/has_memory)"
check "nodes with CPUs" "$(echo "$cpunodes" | to_list)" "$(cat $SYS/has_cpu)"
while read -r node cpus mib dist; do
	[ "$cpus" = "-" ] && cpus=""
	check "node$node CPU list" "$cpus" "$(cat "$SYS/node$node/cpulist")"
	check "node$node distance row" "$(echo "$dist" | tr ',' ' ')" "$(cat "$SYS/node$node/distance")"
	check "node$node memory MiB" "$mib" "$(present_mib "$node")"
done < "$TOPO"
[ $fails -eq 0 ]
