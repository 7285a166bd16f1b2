#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Loads hv_evlog with the default geometry (2 buffers per CPU, 16 pages) and
# compares debugfs's plan and domains with the exact tables expected for the
# VM topology this guest was booted with.
. "$(dirname "$0")/ktap.sh"
D=/sys/kernel/debug/hv_evlog
NAME=$(cat /etc/hv-evlog/name 2>/dev/null)
needs_own_load

# Plan lines: index cpu slot cpu_node node pxm.  Domain lines: node pxm
# first_buffer buffers cpus pool_pages (pool = buffers * 17 + 1).
case "$NAME" in
1node)
	plan="0 0 0 0 0 0|1 0 1 0 0 0|2 1 0 0 0 0|3 1 1 0 0 0"
	domains="0 0 0 4 2 69" ;;
2node)
	plan="0 0 0 0 0 0|1 0 1 0 0 0|2 1 0 0 0 0|3 1 1 0 0 0|4 2 0 1 1 1|5 2 1 1 1 1|6 3 0 1 1 1|7 3 1 1 1 1"
	domains="0 0 0 4 2 69|1 1 4 4 2 69" ;;
4node)
	plan="0 0 0 0 0 0|1 0 1 0 0 0|2 1 0 1 1 1|3 1 1 1 1 1|4 2 0 1 1 1|5 2 1 1 1 1"
	plan="$plan|6 3 0 2 2 2|7 3 1 2 2 2|8 4 0 2 2 2|9 4 1 2 2 2|10 5 0 2 2 2|11 5 1 2 2 2"
	plan="$plan|12 6 0 3 3 3|13 6 1 3 3 3|14 7 0 3 3 3|15 7 1 3 3 3"
	domains="0 0 0 2 1 35|1 1 2 4 2 69|2 2 6 6 3 103|3 3 12 4 2 69" ;;
memless)
	# Node 1 has CPUs and no memory: its CPUs are served from node 2,
	# which is nearer (15) than node 0 (20).
	plan="0 0 0 0 0 0|1 0 1 0 0 0|2 1 0 1 2 2|3 1 1 1 2 2|4 2 0 1 2 2|5 2 1 1 2 2"
	domains="0 0 0 2 1 35|2 2 2 4 2 69" ;;
*)
	echo "1..0 # SKIP unknown topology '$NAME'"; exit 4 ;;
esac

# Every page of every buffer must be on the node the plan names (its
# proximity domain's node), with the pools seeded or empty (then every page
# comes from the module's node-local deposits).
pages_on_plan_node() { # test-number label
	bad=$(tail -n +2 $D/buffers | while read -r idx _ node _; do
		want=$(tail -n +2 $D/plan | awk -v i="$idx" '$1 == i { print $5 }')
		[ "$node" = "$want" ] || echo "buffer $idx on node $node, plan says $want"
	done)
	count=$(tail -n +2 $D/buffers | wc -l)
	if [ -z "$bad" ] && [ "$count" = "$(echo "$plan" | tr '|' '\n' | wc -l)" ]; then
		echo "ok $1 $2: all $count buffers' pages on their plan node"
	else
		echo "not ok $1 $2: $bad (count $count)"
	fi
}

echo "1..12"
insmod "$MOD" backend=sim
rc=$?
[ $rc = 0 ] && echo "ok 1 insmod backend=sim" || echo "not ok 1 insmod backend=sim # exit $rc"
got=$(tail -n +2 $D/plan 2>&1 | tr '\n' '|' | sed 's/|$//')
[ "$got" = "$plan" ] && echo "ok 2 plan matches $NAME" ||
	echo "not ok 2 plan matches $NAME # expected '$plan', got '$got'"
got=$(tail -n +2 $D/domains 2>&1 | tr '\n' '|' | sed 's/|$//')
[ "$got" = "$domains" ] && echo "ok 3 domains match $NAME" ||
	echo "not ok 3 domains match $NAME # expected '$domains', got '$got'"
pages_on_plan_node 4 "seeded pools"
rmmod hv_evlog && [ ! -e $D ] && echo "ok 5 rmmod removes the debugfs directory" ||
	echo "not ok 5 rmmod removes the debugfs directory"
dmesg -c > /dev/null
insmod "$MOD" backend=sim sim_pool_pages=0
rc=$?
[ $rc = 0 ] && echo "ok 6 insmod with empty pools" || echo "not ok 6 insmod with empty pools # exit $rc"
pages_on_plan_node 7 "deposited pools"
states=$(tail -n +2 $D/buffers | awk '{print $5}' | sort -u | tr '\n' ' ')
# Empty pools: set-up deposits exactly what the plan needs. Those pages
# stay with the hypervisor: the module withdraws nothing and frees none of
# them; the simulator, part of the module, frees them when it goes.
needed=$(tail -n +2 $D/domains | awk '{ s += $6 } END { print s }')
deposited=$(awk '$1 == "node" && $3 == "deposited" { s += $4 } END { print s + 0 }' $D/pool)
ledger=$(awk '$1 ~ /^sim_/ { printf "%s=%s ", $1, $2 }' $D/pool)
rmmod hv_evlog
warns=$(dmesg | grep -c 'teardown:')
[ "$warns" = 0 ] && echo "ok 8 teardown without a failed step (states seen: $states)" ||
	echo "not ok 8 teardown without a failed step # $(dmesg | grep teardown: | head -2)"
[ "$deposited" = "$needed" ] &&
	[ "$ledger" = "sim_seeded=0 sim_deposited=$needed sim_withdrawn=0 " ] &&
	echo "ok 9 set-up deposited the $needed pages needed and nothing was withdrawn" ||
	echo "not ok 9 deposits accounted, nothing withdrawn # module deposited $deposited of $needed; $ledger"
# The simulator's pool at unload held exactly the module's deposits (no
# seed): every deposited page was still the hypervisor's.
freed=$(dmesg | sed -n 's/.*simulator: freed \([0-9]*\) pool pages: \([0-9]*\) seeded, \([0-9]*\) deposited, \([0-9]*\) withdrawn.*/\1 \2 \3 \4/p' | tail -1)
[ "$freed" = "$needed 0 $needed 0" ] &&
	echo "ok 10 the simulator still held all $needed deposited pages at unload" ||
	echo "not ok 10 the simulator still held all deposited pages at unload # freed/seeded/deposited/withdrawn: '$freed'"
! dmesg | grep -q 'withdr[ae]w.*pages deposited' && echo "ok 11 no withdrawal at unload" ||
	echo "not ok 11 no withdrawal at unload # $(dmesg | grep 'withdr[ae]w' | head -1)"
# A seeded pool (pages the module did not deposit, like other drivers'
# deposits in a root partition's pool) is left entirely to the simulator.
dmesg -c > /dev/null
insmod "$MOD" backend=sim sim_pool_pages=8
rc=$?
seeded=$(awk '$1 == "sim_seeded" { print $2 }' $D/pool 2>/dev/null)
deposited=$(awk '$1 == "sim_deposited" { print $2 }' $D/pool 2>/dev/null)
rmmod hv_evlog
freed=$(dmesg | sed -n 's/.*simulator: freed \([0-9]*\) pool pages: .* \([0-9]*\) withdrawn.*/\1 \2/p' | tail -1)
[ $rc = 0 ] && [ -n "$seeded" ] && [ "$seeded" -gt 0 ] && [ "$deposited" -gt 0 ] &&
	[ "$freed" = "$((seeded + deposited)) 0" ] &&
	echo "ok 12 seeded $seeded + deposited $deposited pages all freed by the simulator, none withdrawn" ||
	echo "not ok 12 seeded and deposited pages stay with the simulator # rc $rc, seeded '$seeded', deposited '$deposited', freed/withdrawn '$freed'"
