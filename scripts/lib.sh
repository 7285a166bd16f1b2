# Shared steps of scripts/test.sh and scripts/demo.sh.
# shellcheck shell=bash

# step NAME: announces a step; a command that stops before its end says, in
# one line, at which step and with which status (the step's own error is
# above it).
HV_EVLOG_STEP="reading scripts/env.sh"
step() {
	HV_EVLOG_STEP=$*
	printf '\n==> %s\n' "$*" >&2
}
stopped_at() {
	local rc=$?
	# A command that ran to its end clears the step (its own last line says
	# how it went).
	[ "$rc" = 0 ] || [ -z "$HV_EVLOG_STEP" ] || printf '%s: stopped at step "%s" (exit status %s); the lines above say why\n' \
		"$(basename "$0")" "$HV_EVLOG_STEP" "$rc" >&2
}
trap stopped_at EXIT

. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Installs what is missing, builds (or finds) the test kernel; sets KDIR.
prepare_kernel() {
	step "setup (installs only what is missing)"
	"$HV_EVLOG_ROOT/scripts/setup.sh"
	. "$HV_EVLOG_ROOT/scripts/env.sh"
	step "test kernel (cached by version, config and toolchain)"
	KDIR=$("$HV_EVLOG_ROOT/scripts/build-kernel.sh")
	export KDIR
	echo "kernel: $KDIR" >&2
}

# Builds hv_evlog.ko with clippy as the compiler driver: one build that both
# lints (any warning fails) and produces the module the VM loads.
build_module() {
	step "module: make CLIPPY=1 (warnings are errors)"
	local log=$OUT/module-build.log
	mkdir -p "$OUT"
	make -s -C "$HV_EVLOG_ROOT" KDIR="$KDIR" clean >/dev/null
	if ! make -C "$HV_EVLOG_ROOT" KDIR="$KDIR" CLIPPY=1 >"$log" 2>&1; then
		cat "$log" >&2
		return 1
	fi
	if grep -E '(^|[^-])(warning|error)(\[|:)' "$log" >&2; then
		echo "module build printed warnings (full log: $log)" >&2
		return 1
	fi
}

# The tool's binary: its .cargo/config.toml names the target (see why there).
HV_EVLOG_CLI=$HV_EVLOG_ROOT/tools/hv-evlog/target/x86_64-unknown-linux-gnu/release/hv-evlog

# The guest has no libc: the tool must be static.
build_cli() {
	(cd "$HV_EVLOG_ROOT/tools/hv-evlog" && cargo build --locked --quiet --release) &&
		file "$HV_EVLOG_CLI" | grep -q 'static'
}

# must NAME COMMAND...: a step outside the counted suite that has to work.
must() {
	local name=$1
	shift
	"$@" || { echo "$(basename "$0"): $name failed" >&2; exit 1; }
}

# build_guest_side: everything the VM boots load, each step counted by
# GATE (test.sh's gate, or a plain runner). The module build doubles as the
# clippy gate.
build_guest_side() {
	local gate=$1
	$gate "hv-evlog builds statically linked" build_cli
	$gate "module builds clippy-clean (make CLIPPY=1)" build_module
	$gate "guest test programs build" make -s -C "$HV_EVLOG_ROOT/selftests"
	step "harness self-test modules"
	$gate "harness self-test modules build" \
		make -s -C "$KDIR" M="$HV_EVLOG_ROOT/vm/selftest-modules" modules
}

# ---------------------------------------------------------------------------
# The VM part of the suite: scripts/test.sh runs it once, scripts/repeat-vm.sh
# N times. The boots are listed here and nowhere else.
# ---------------------------------------------------------------------------

# Each boot's limits, which detect a hang and never time a boot: vm/run.py
# cuts a guest that prints nothing (console, report or data port) for
# VM_SILENCE seconds, or that is still running after VM_TIMEOUT. The slowest
# boot measured on a slow machine of this kind took 245 s; the total limit
# is far above it, so a machine that is slow but making progress always
# finishes. Each boot prints its time and its ratio to the harness
# self-test's boot in the same run, the machine's speed.
VM_TIMEOUT=960
VM_SILENCE=240
# Every topology runs these (the token @common in a test list).
VM_COMMON=numa_topology.sh,module_load.sh,placement.sh,backend_hv.sh
# One boot per line: name, topology, guest tests, and optionally NAME=VALUE
# settings exported to them (VM_TIMEOUT=S and VM_SILENCE=S instead set that
# boot's limits).
# Longest first: two run at a time, so the long ones start early. The device
# and the tool run where placement differs most (2node: one domain per node;
# memless: CPUs served remotely); the parameter table (one load per case)
# in 1node; every set-up hypercall failed in turn, then a reboot with the
# group active; load/unload cycles (and the kick work traced through
# open/close/rmmod loops), the header race and completion messages
# in two more 2node boots, cycles and races shortened to 50 and 30
# (scripts/soak.sh runs 200 of each; together in one boot they took 147 s
# of 300 on a busy machine); type=system and the hypercall log
# get a short boot of their own, with the harness programs that load the
# module themselves; so does the simulator flooded at
# sim_rate=1000000 for 20 s before FLUSH and rmmod (scripts/soak.sh: 30 s);
# and so does the ioctl/mmap fuzzer, 30000 calls or 20 s per mode,
# whichever ends first (scripts/soak.sh: 500000 calls per mode).
# A live group: resizes and CPU hotplug under a capture in 2node and
# memless (memless also offlines memory holding buffers), and the live soak
# shortened to 40 load cycles and 15 s (scripts/soak.sh: 1,000 and 600 s).
VM_BOOTS="
2node 2node @common,info_plan.sh,device_test,cli.sh
memless memless @common,info_plan.sh,device_test,cli.sh
1node-params 1node params.sh
2node-faults 2node fail_at.sh,reboot.sh
2node-cycles 2node cycles.sh,kick_trace_test CYCLES=50
2node-races 2node header_race.sh,messages.sh LOOPS=30
2node-fuzz 2node fuzz.sh FUZZ_CALLS=30000 FUZZ_SECONDS=20
4node 4node @common
1node 1node @common
system 2node system_log.sh,hypercalls.sh,circular_test,circular_records_test,copy_resize_test
2node-flood 2node sim_flood.sh FLOOD_SECONDS=20
2node-captures 2node capture_formats.sh
2node-live 2node resize.sh,hotplug.sh
memless-live memless hotplug.sh,resize.sh,memory_offline.sh
2node-soak 2node live_soak.sh SOAK_CYCLES=40 SOAK_SECONDS=15
"
# A boot whose list holds reboot.sh (last) reboots with the group active;
# its console must show the stop sequence, here for 2node's 4 CPUs with 2
# buffers each, every CPU's buffer in use.
VM_REBOOT_LINE='hv_evlog: reboot: event log stopped: 4 flushed, 4 released, 8 deleted, group finalized, 0 failed steps$'
# Files every boot needs beside its tests (fuzz.sh runs hv_evlog_fuzz,
# resize.sh and live_soak.sh source capture_lib.sh): the Makefile's list.
VM_HELPERS=$(make -s -C "$HV_EVLOG_ROOT/selftests" print-files)

# vm_unbooted: the tests the selftests' Makefile lists that no boot of
# VM_BOOTS runs, one per line; none, when the two lists agree.
vm_unbooted() {
	local booted=" " name topo tests env t
	while read -r name topo tests env; do
		[ -n "$name" ] && booted="$booted$(vm_tests "$tests" | tr , ' ') "
	done <<< "$VM_BOOTS"
	for t in $(make -s -C "$HV_EVLOG_ROOT/selftests" print-tests); do
		case $booted in
		*" $t "*) ;;
		*) echo "$t" ;;
		esac
	done
}

# The interpreter of the venv with the ETL readers (scripts/setup.sh).
ETL_PYTHON=$HV_EVLOG_TOOLS/etl-venv/bin/python3

# vm_capture_checks OUT: after vm_suite, checks on the host what each boot
# running capture_formats.sh wrote to its data port (OUT/NAME.data), with
# readers the guest lacks; leaves "passed failed skipped" in
# CAPTURE_COUNTS.
vm_capture_checks() {
	local out=$1 name topo tests env p f s cp cf cs
	CAPTURE_COUNTS="0 0 0"
	while read -r name topo tests env; do
		case ",$(vm_tests "$tests")," in
		*,capture_formats.sh,*) ;;
		*) continue ;;
		esac
		step "host: ETL and trace files of $name"
		python3 "$HV_EVLOG_ROOT/scripts/check-captures.py" --data "$out/$name.data" \
			--tool "$HV_EVLOG_CLI" \
			--python "$ETL_PYTHON" | tee "$out/$name.captures.log"
		read -r p _ f _ s _ < <(tail -n 1 "$out/$name.captures.log")
		case "$p$f$s" in
		*[!0-9]* | "") echo "not ok - captures of $name: the check printed no count"; p=0 f=1 s=0 ;;
		esac
		read -r cp cf cs <<< "$CAPTURE_COUNTS"
		CAPTURE_COUNTS="$((cp + p)) $((cf + f)) $((cs + s))"
	done <<< "$VM_BOOTS"
}

# vm_tests TESTS: a boot's test list with @common expanded.
vm_tests() { echo "${1//@common/$VM_COMMON}"; }

# vm_start NAME run.py-arguments...: boots in the background, output kept.
vm_start() {
	local name=$1
	shift
	python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --out "$VM_OUT" --name "$name" \
		--timeout "$VM_TIMEOUT" --silence "$VM_SILENCE" "$@" > "$VM_OUT/$name.out" 2>&1 &
}

# vm_collect NAME: prints a finished run and adds its counts to VM_COUNTS.
vm_collect() {
	step "VM: $1"
	cat "$VM_OUT/$1.out"
	if [ -f "$VM_OUT/$1.counts" ]; then
		read -r p f s < "$VM_OUT/$1.counts"
	else
		echo "not ok - VM run $1 produced no result"
		p=0 f=1 s=0
	fi
	local vp vf vs
	read -r vp vf vs <<< "$VM_COUNTS"
	VM_COUNTS="$((vp + p)) $((vf + f)) $((vs + s))"
}

# vm_suite OUT: the harness self-test, then every boot of VM_BOOTS, two at
# a time; prints each as nested TAP and leaves "passed failed skipped" in
# VM_COUNTS. Needs KDIR, the module, the guest programs and the tool built.
vm_suite() {
	VM_OUT=$1
	VM_COUNTS="0 0 0"
	mkdir -p "$VM_OUT"
	local sel=$HV_EVLOG_ROOT/selftests files=() name topo tests t names=() words=()
	local all=$VM_HELPERS
	while read -r name topo tests env; do
		[ -n "$name" ] || continue
		all="$all $(vm_tests "$tests" | tr , ' ')"
	done <<< "$VM_BOOTS"
	read -r -a words <<< "$all"
	for t in $(printf '%s\n' "${words[@]}" | sort -u); do
		files+=(--guest-file "$sel/$t")
	done
	files+=(--guest-file "$HV_EVLOG_CLI")

	# First, alone: it also probes KVM once for the runs that follow.
	local hm=$HV_EVLOG_ROOT/vm/selftest-modules
	vm_start harness-selftest --topology 1node --tests harness_selftest.sh \
		--guest-file "$hm/harness_selftest.sh" \
		--module "$hm/hv_evlog_harness_leak.ko" --module "$hm/hv_evlog_harness_warn.ko" \
		--expect-fail "kmemleak reports no leak,console has no kernel WARNING,console has no call trace"
	wait
	vm_collect harness-selftest
	# The machine's speed, for every boot after it to be compared with.
	local calibration=() took
	if read -r took 2>/dev/null < "$VM_OUT/harness-selftest.time"; then
		calibration=(--calibration "$took")
		echo "# machine speed: the harness self-test booted in $took s" >&2
	fi

	local running=0
	while read -r name topo tests env; do
		[ -n "$name" ] || continue
		if [ "$running" -ge 2 ]; then
			wait -n
			running=$((running - 1))
		fi
		local envs=()
		for t in $env; do
			case $t in
			# A boot of its own length (scripts/soak.sh): its limits.
			VM_TIMEOUT=*) envs+=(--timeout "${t#VM_TIMEOUT=}") ;;
			VM_SILENCE=*) envs+=(--silence "${t#VM_SILENCE=}") ;;
			*) envs+=(--guest-env "$t") ;;
			esac
		done
		case ",$tests," in
		*,reboot.sh,*) envs+=(--expect-console "$VM_REBOOT_LINE") ;;
		esac
		vm_start "$name" --topology "$topo" --tests "$(vm_tests "$tests")" \
			--module "$HV_EVLOG_ROOT/hv_evlog.ko" "${files[@]}" "${calibration[@]}" "${envs[@]}"
		running=$((running + 1))
		names+=("$name")
	done <<< "$VM_BOOTS"
	wait
	for name in "${names[@]}"; do
		vm_collect "$name"
	done
}
