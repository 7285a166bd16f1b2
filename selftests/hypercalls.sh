#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# debugfs hypercalls (log_hypercalls=N): off by default; when on, the exact
# bytes of the calls set-up made, as the hypervisor was handed them: the
# initialize input, each create's buffer index and proximity domain, the
# fast/slow form; the ring keeps the last N. (Teardown's calls come after
# debugfs is gone; placement.sh shows nothing is withdrawn then.)
. "$(dirname "$0")/ktap.sh"
D=/sys/kernel/debug/hv_evlog
F=$D/hypercalls
needs_own_load

# le32 N: N as 4 little-endian bytes in hex.
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
# calls CODE: the log lines of call CODE (0x0060 ...), in order.
calls() { awk -v c="$1" '$1 ~ /^[0-9]+$/ && $2 == c' "$F"; }

echo "1..12"
insmod "$MOD" backend=sim
result $? "insmod backend=sim" "exit $?"
check "off by default" "# off: load hv_evlog with log_hypercalls=N to keep the last N hypercalls" "$(cat $F)"
rmmod hv_evlog

insmod "$MOD" backend=sim log_hypercalls=64 buffer_pages=16
result $? "insmod log_hypercalls=64" "exit $?"
check "header line" \
	"seq code name form rep_count rep_start input_bytes input_hex status status_name reps_done" \
	"$(sed -n 2p $F)"
buffers=$(tail -n +2 $D/plan | wc -l)
# Initialize: type local (1), mode regular (0), max = 4 times the plan's
# buffers, at most 512 (max_buffers=0 leaves room to grow), 16 pages =
# 65536 bytes, threshold 1, time basis reference (0); the rest
# (system_time, and padding in the aligned layout) zero.
max=$((4 * buffers))
[ $max -gt 512 ] && max=512
init=$(calls 0x0060)
# shellcheck disable=SC2086 # the call's fields, as $1 to $9
set -- $init
want="0100$(printf 0000)$(le32 "$max")$(le32 65536)$(le32 1)$(le32 0)"
rest=$(( ${7:-0} * 2 - ${#want} ))
[ "$rest" -ge 0 ] && want="$want$(printf "%0${rest}d" 0)"
check "one initialize, slow, exact input bytes" \
	"HvCallInitializeEventLogBufferGroup slow $want 0x0000" "$3 $4 $8 $9"
# Create: a fast call as Microsoft's driver makes it, its 16 bytes in the
# two input registers: type, index and the plan's proximity domain with
# flags valid|preferred (0x80000001).
bad=$(tail -n +2 $D/plan | while read -r idx _ _ _ _ pxm; do
	want="$(le32 1)$(le32 "$idx")$(le32 "$pxm")$(le32 2147483649)"
	line=$(calls 0x0062 | awk -v h="$want" '$4 == "fast" && $8 == h && $9 == "0x0000"')
	[ -n "$line" ] || echo "buffer $idx (pxm $pxm): no create with $want"
	echo "$line" | awk '$7 != 16 { print "buffer " $1 ": " $0 }'
done)
check "every create names its buffer and proximity domain" "" "$bad"
check "one successful create per planned buffer" "$buffers" \
	"$(calls 0x0062 | awk '$9 == "0x0000"' | wc -l)"
check "one map per buffer" "$buffers" "$(calls 0x0064 | awk '$4 == "slow" && $9 == "0x0000"' | wc -l)"
seqs=$(awk '$1 ~ /^[0-9]+$/ { print $1 }' $F | tr '\n' ' ')
total=$(sed -n 's/^# \([0-9]*\) hypercalls since load.*/\1/p' $F)
check "numbered from 1, none dropped" \
	"$(awk -v n="$total" 'BEGIN { for (i = 1; i <= n; i++) printf "%d ", i }')" "$seqs"
check "no HvCallWithdrawMemory at set-up" "" "$(calls 0x0049)"
rmmod hv_evlog

insmod "$MOD" backend=sim log_hypercalls=3
result $? "insmod log_hypercalls=3" "exit $?"
total=$(sed -n 's/^# \([0-9]*\) hypercalls since load.*/\1/p' $F)
check "a small log keeps the last 3" "$((total - 2)) $((total - 1)) $total" \
	"$(awk '$1 ~ /^[0-9]+$/ { print $1 }' $F | tr '\n' ' ' | sed 's/ $//')"
rmmod hv_evlog
[ $fails -eq 0 ]
