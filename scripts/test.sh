#!/usr/bin/env bash
# Every test: set-up, lint gates, host tests, module build, and the VM runs
# of every topology plus the harness self-test.  Ends with one line
# 'N passed, N failed, N skipped'; exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$HV_EVLOG_ROOT/out
TOPOLOGIES=(1node 2node 4node memless)
# Every topology runs these.
GUEST_TESTS=numa_topology.sh,module_load.sh,placement.sh,backend_hv.sh
# Slow under TCG, so each runs where it tells most: the parameter table
# (one load per case) in 1node; every set-up hypercall failed in turn and
# 200 load/unload cycles in 2node; the device and the tool where placement
# differs most (2node: one domain per node; memless: CPUs served remotely).
EXTRA_TESTS_1node=params.sh
EXTRA_TESTS_2node=fail_at.sh,cycles.sh,info_plan.sh,device_test,cli.sh
EXTRA_TESTS_memless=info_plan.sh,device_test,cli.sh
passed=0 failed=0 skipped=0

add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3)); }
gate() { # name command...: a lint or build gate counts as one test
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		add 1 0 0
	else
		echo "not ok - $name"
		add 0 1 0
	fi
}

rust_sources() {
	git -C "$HV_EVLOG_ROOT" ls-files --cached --others --exclude-standard '*.rs'
}
rustfmt_check() {
	(cd "$HV_EVLOG_ROOT" && rust_sources | xargs -r rustfmt --edition 2021 --check)
}

# cargo's 'test result:' lines, summed into the totals.
cargo_tests() {
	local dir=$1 log
	log=$OUT/cargo-$(basename "$dir").log
	(cd "$dir" && cargo test --locked 2>&1) | tee "$log" | grep -E '^(test result|error|failures)' >&2
	local rc=${PIPESTATUS[0]}
	read -r p f i < <(awk '/^test result:/ { p += $4; f += $6; i += $8 } END { print p+0, f+0, i+0 }' "$log")
	add "$p" "$f" "$i"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - cargo test in $dir (exit $rc, see $log)"
		add 0 1 0
	fi
}

cargo_clippy() {
	(cd "$1" && cargo clippy --locked --quiet --all-targets -- -D warnings)
}

# The guest has no libc: the tool must be static.
build_cli() {
	(cd "$HV_EVLOG_ROOT/tools/hv-evlog" && cargo build --locked --quiet --release) &&
		file "$HV_EVLOG_ROOT/tools/hv-evlog/target/release/hv-evlog" | grep -q 'static'
}

# vm_start NAME run.py-arguments...: boots in the background, output kept.
vm_start() {
	local name=$1
	shift
	python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --out "$OUT" --name "$name" "$@" \
		> "$OUT/$name.out" 2>&1 &
}

# vm_collect NAME: prints a finished run and adds its counts.
vm_collect() {
	step "VM: $1"
	cat "$OUT/$1.out"
	if [ -f "$OUT/$1.counts" ]; then
		add $(cat "$OUT/$1.counts")
	else
		echo "not ok - VM run $1 produced no result"
		add 0 1 0
	fi
}

main() {
	rm -rf "$OUT" && mkdir -p "$OUT"
	prepare_kernel || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

	step "lint: rustfmt --check"
	gate "rustfmt --check on every Rust file" rustfmt_check

	step "docs: Documentation/hv_evlog.rst with docutils (a warning fails)"
	gate "reST documentation builds without a warning" "$HV_EVLOG_ROOT/scripts/check-docs.sh"

	step "lint: clippy on the host crates (warnings are errors)"
	gate "cargo clippy tests/host" cargo_clippy "$HV_EVLOG_ROOT/tests/host"
	gate "cargo clippy tools/hv-evlog" cargo_clippy "$HV_EVLOG_ROOT/tools/hv-evlog"

	step "host tests: cargo test"
	cargo_tests "$HV_EVLOG_ROOT/tests/host"
	cargo_tests "$HV_EVLOG_ROOT/tools/hv-evlog"
	gate "hv-evlog builds statically linked" build_cli

	gate "module builds clippy-clean (make CLIPPY=1)" build_module
	gate "guest test programs build" make -s -C "$HV_EVLOG_ROOT/selftests"
	step "harness self-test modules"
	gate "harness self-test modules build" \
		make -s -C "$KDIR" M="$HV_EVLOG_ROOT/vm/selftest-modules" modules

	local t extra sel=$HV_EVLOG_ROOT/selftests files=()
	for f in numa_topology.sh module_load.sh placement.sh backend_hv.sh params.sh fail_at.sh \
		cycles.sh info_plan.sh device_test cli.sh ktap.sh hv_evlog_load; do
		files+=(--guest-file "$sel/$f")
	done
	files+=(--guest-file "$HV_EVLOG_ROOT/tools/hv-evlog/target/release/hv-evlog")

	# First, alone: it also probes KVM once for the runs that follow.
	local hm=$HV_EVLOG_ROOT/vm/selftest-modules
	vm_start harness-selftest --topology 1node --tests harness_selftest.sh \
		--guest-file "$hm/harness_selftest.sh" \
		--module "$hm/hv_evlog_harness_leak.ko" --module "$hm/hv_evlog_harness_warn.ko" \
		--expect-fail "kmemleak reports no leak,console has no kernel WARNING,console has no call trace"
	wait
	vm_collect harness-selftest

	# Two guests at a time on two cores; the longest (2node) beside the rest.
	for t in 2node 1node 4node memless; do
		extra=EXTRA_TESTS_$t
		vm_start "$t" --topology "$t" --tests "$GUEST_TESTS${!extra:+,${!extra}}" \
			--module "$HV_EVLOG_ROOT/hv_evlog.ko" "${files[@]}"
		[ "$t" = 2node ] && continue
		wait -n
	done
	wait
	for t in "${TOPOLOGIES[@]}"; do
		vm_collect "$t"
	done

	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}
main "$@"
