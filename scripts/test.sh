#!/usr/bin/env bash
# Every test: set-up, lint gates, host tests, module build, and the VM runs
# of every topology plus the harness self-test.  Ends with one line
# 'N passed, N failed, N skipped'; exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$HV_EVLOG_ROOT/out
TOPOLOGIES=(1node 2node 4node memless)
# Every topology runs these; the parameter table (slow under TCG: one load
# per case) runs once, in 1node.
GUEST_TESTS=numa_topology.sh,module_load.sh,placement.sh,backend_hv.sh,device_test,cli.sh
EXTRA_TESTS_1node=params.sh
# Every set-up hypercall failed in turn, and 200 load/unload cycles.
EXTRA_TESTS_2node=fail_at.sh,cycles.sh
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

vm() { # run.py arguments...
	python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --out "$OUT" "$@"
	local name
	name=$(printf '%s\n' "$@" | awk 'prev == "--name" { print; exit } { prev = $0 }')
	[ -n "$name" ] || name=$(printf '%s\n' "$@" | awk 'prev == "--topology" { print; exit } { prev = $0 }')
	if [ -f "$OUT/$name.counts" ]; then
		add $(cat "$OUT/$name.counts")
	else
		echo "not ok - VM run $name produced no result"
		add 0 1 0
	fi
}

main() {
	rm -rf "$OUT" && mkdir -p "$OUT"
	prepare_kernel || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

	step "lint: rustfmt --check"
	gate "rustfmt --check on every Rust file" rustfmt_check

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
		cycles.sh device_test cli.sh hv_evlog_load; do
		files+=(--guest-file "$sel/$f")
	done
	files+=(--guest-file "$HV_EVLOG_ROOT/tools/hv-evlog/target/release/hv-evlog")
	for t in "${TOPOLOGIES[@]}"; do
		step "VM: $t"
		extra=EXTRA_TESTS_$t
		vm --topology "$t" --tests "$GUEST_TESTS${!extra:+,${!extra}}" \
			--module "$HV_EVLOG_ROOT/hv_evlog.ko" "${files[@]}"
	done

	step "VM: harness self-test (a leak and a WARN must both be caught)"
	local hm=$HV_EVLOG_ROOT/vm/selftest-modules
	vm --topology 1node --name harness-selftest --tests harness_selftest.sh \
		--guest-file "$hm/harness_selftest.sh" \
		--module "$hm/hv_evlog_harness_leak.ko" --module "$hm/hv_evlog_harness_warn.ko" \
		--expect-fail "kmemleak reports no leak,console has no kernel WARNING,console has no call trace"

	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}
main "$@"
