#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# type=system: the hypervisor's own system-diagnostics buffers. The module
# asks their number and size (HvCallGetSystemProperty, property 28), only
# maps each (type 2) and unmaps it at unload: no pool check, no group, no
# create, no sources. The simulator keeps 4 buffers of 4 pages and rotates
# through them with no completion message.
. "$(dirname "$0")/ktap.sh"
D=/sys/kernel/debug/hv_evlog
needs_own_load

# le32 N: N as 4 little-endian bytes in hex.
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
# calls CODE: the hypercall log lines of call CODE.
calls() { awk -v c="$1" '$1 ~ /^[0-9]+$/ && $2 == c' $D/hypercalls; }
COUNT=4 PAGES=4
# Entries of 32 bytes: a buffer holds (4 * 4096 - 72) / 32 = 509 of them.
FULL=$((509 * 32))

echo "1..14"
dmesg -c > /dev/null
insmod "$MOD" backend=sim type=system log_hypercalls=64
result $? "insmod backend=sim type=system" "exit $?"
check "dmesg names the hypervisor's geometry" \
	"hv_evlog: type=system: mapping the hypervisor's $COUNT diagnostic log buffers of $PAGES pages read-only (buffer_pages, buffers_per_cpu, threshold, mode, time_basis and sources do not apply)" \
	"$(dmesg | grep -o 'hv_evlog: type=system: .*')"
info=$("$TOOL" info --json)
# json KEY: the number after "KEY": in the tool's one-line JSON.
json() { echo "$info" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
check "INFO: type 2, $COUNT buffers of $((PAGES * 4096)) bytes, circular, no threshold or sources" \
	"2 1 $COUNT $((PAGES * 4096)) 0 0" \
	"$(json type_id) $(json mode_id) $(json buffer_count) $(json buffer_size) $(json threshold) $(json sources)"
check "debugfs buffers: the $COUNT hypervisor buffers, no domain, no CPU" "0 -1 -1|1 -1 -1|2 -1 -1|3 -1 -1" \
	"$(tail -n +2 $D/buffers | awk '{ print $1, $2, $4 }' | tr '\n' '|' | sed 's/|$//')"
# The calls, byte for byte: one GetSystemProperty (property 28 = 0x1c,
# slow, 16 bytes), one map of type 2 per index, and nothing else.
check "one HvCallGetSystemProperty for property 28" \
	"slow 16 1c000000000000000000000000000000 0x0000" \
	"$(calls 0x007b | awk '{ print $4, $7, $8, $9 }')"
bad=$(for i in 0 1 2 3; do
	calls 0x0064 | awk -v h="$(le32 2)$(le32 $i)" 'substr($8, 1, 16) == h && $9 == "0x0000"' | grep -q . ||
		echo "no map of type 2 buffer $i"
done)
check "one map of type 2 per buffer" "" "$bad"
check "only those calls: no pool query, deposit, initialize, create or sources" \
	"0x0064 0x0064 0x0064 0x0064 0x007b" \
	"$(awk '$1 ~ /^[0-9]+$/ { print $2 }' $D/hypercalls | sort | tr '\n' ' ' | sed 's/ $//')"

# Events: the simulator writes about 1000 a second; a buffer fills in half
# a second, then the next one takes over. Complete ones chain to the next
# index and hold exactly FULL entry bytes (counted from the header's end).
sleep 2
h=$(tail -n +2 $D/headers)
inuse=$(echo "$h" | awk '$2 == "in-use"' | wc -l)
complete=$(echo "$h" | awk -v full=$FULL -v n=$COUNT \
	'$2 == "complete" && $3 > 0 && $4 == full && $5 == ($1 + 1) % n' | wc -l)
[ "$inuse" = 1 ] && [ "$complete" -ge 1 ]
result $? "events in the headers: one buffer in use, the full ones complete and chained" "$h"
stamps=$(echo "$h" | awk '$3 > 0 { print $3 }' | sort -n | uniq | wc -l)
check "each started buffer has its own time stamp" "$(echo "$h" | awk '$3 > 0' | wc -l)" "$stamps"
sleep 1
grew=$(tail -n +2 $D/headers | awk -v old="$(echo "$h" | awk '{ printf "%s:%s ", $3, $4 }')" \
	'{ now = now $3 ":" $4 " " } END { print (now != old) }')
check "the hypervisor goes on writing" 1 "$grew"
# No completion records: capture maps every buffer read-only and gets none.
out=$("$TOOL" capture --duration 1 2>&1 >/dev/null | tail -1)
check "capture maps the buffers and reads no record" \
	"hv-evlog: events=0 buffers=0 lost=0 dropped=0 malformed=0" \
	"$(echo "$out" | sed 's/ seconds=.*//')"
! "$TOOL" flush > /dev/null 2>&1
result $? "flush is refused (the hypervisor's buffers)" "flush succeeded"
dmesg -c > /dev/null
rmmod hv_evlog
result $? "rmmod" "exit $?"
check "unload: no teardown step failed" "" "$(dmesg | grep 'teardown:')"
[ $fails -eq 0 ]
