#!/usr/bin/env bash
# Every test: set-up, lint gates, host tests, module build, and the VM runs
# of every topology plus the harness self-test.  Ends with one line
# 'N passed, N failed, N skipped'; exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# This command's own directory: the demo's (out/demo) and the benchmarks'
# (out/bench) stay as they are.
OUT=$HV_EVLOG_ROOT/out/test
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

# Every test the selftests' Makefile lists is in some boot; names the rest.
all_booted() {
	local missing
	missing=$(vm_unbooted)
	[ -z "$missing" ] || echo "not in any boot of VM_BOOTS: $missing" >&2
	[ -z "$missing" ]
}

cargo_clippy() {
	(cd "$1" && cargo clippy --locked --quiet --all-targets -- -D warnings)
}

shellcheck_all() {
	(cd "$HV_EVLOG_ROOT" && git ls-files -z '*.sh' .ci/run | xargs -0 shellcheck)
}

# checkpatch.pl of the kernel source that prepare_kernel extracted, on every
# C file and header that the selftests' Makefile and vm/selftest-modules
# build (the uapi header included): any error or warning fails. Prints what
# it found and the totals of each file that has findings.
checkpatch_all() {
	local srcs=("$HV_EVLOG_CACHE"/src/linux-7.2-*) files rc
	local checkpatch=${srcs[0]}/scripts/checkpatch.pl
	if [ ! -f "$checkpatch" ]; then
		echo "checkpatch: no $HV_EVLOG_CACHE/src/linux-7.2-*/scripts/checkpatch.pl" >&2
		return 1
	fi
	mapfile -t files < <(git -C "$HV_EVLOG_ROOT" ls-files --cached --others --exclude-standard \
		'selftests/*.[ch]' 'vm/selftest-modules/*.[ch]' include/uapi/linux/hv_evlog.h)
	if [ "${#files[@]}" = 0 ]; then
		echo "checkpatch: no C file found" >&2
		return 1
	fi
	(cd "$HV_EVLOG_ROOT" && perl "$checkpatch" --no-tree --quiet --terse --file "${files[@]}") |
		grep -v '^total: 0 errors, 0 warnings,'
	rc=${PIPESTATUS[0]}
	echo "checkpatch: ${#files[@]} files checked" >&2
	return "$rc"
}

main() {
	rm -rf "$OUT" && mkdir -p "$OUT"
	step "fresh machine: the scripts with an empty HV_EVLOG_CACHE (scripts/check-fresh.sh)"
	gate "the scripts load and set-up lists its work with an empty cache" "$HV_EVLOG_ROOT/scripts/check-fresh.sh"

	step "harness: vm/run.py's hang detector (vm/test_run.py)"
	gate "vm/run.py cuts a silent guest and never one making progress" python3 "$HV_EVLOG_ROOT/vm/test_run.py"

	prepare_kernel || { echo "$passed passed, $((failed + 1)) failed, $skipped skipped"; exit 1; }

	step "lint: shellcheck on every shell script"
	gate "shellcheck on every shell script" shellcheck_all

	step "lint: checkpatch.pl on the guest C programs and the test modules"
	gate "checkpatch.pl without an error or a warning on every selftest C file" checkpatch_all

	step "lint: rustfmt --check"
	gate "rustfmt --check on every Rust file" rustfmt_check

	step "layers: each names only the layers it may, the pure ones forbid unsafe (scripts/check-layers.py)"
	gate "the module's layers name only what they may, the pure ones without unsafe" python3 "$HV_EVLOG_ROOT/scripts/check-layers.py"

	step "docs: Documentation/hv_evlog.rst with docutils (a warning fails)"
	gate "reST documentation builds without a warning" "$HV_EVLOG_ROOT/scripts/check-docs.sh"

	step "lint: clippy on the host crates (warnings are errors)"
	gate "cargo clippy tests/host" cargo_clippy "$HV_EVLOG_ROOT/tests/host"
	gate "cargo clippy tools/hv-evlog" cargo_clippy "$HV_EVLOG_ROOT/tools/hv-evlog"

	step "tests: every selftest the Makefile lists runs in a VM boot"
	gate "every selftest is in VM_BOOTS" all_booted

	step "host tests: cargo test"
	cargo_tests "$HV_EVLOG_ROOT/tests/host"
	cargo_tests "$HV_EVLOG_ROOT/tools/hv-evlog"
	build_guest_side gate

	vm_suite "$OUT"
	read -r p f s <<< "$VM_COUNTS"
	add "$p" "$f" "$s"
	vm_capture_checks "$OUT"
	read -r p f s <<< "$CAPTURE_COUNTS"
	add "$p" "$f" "$s"

	HV_EVLOG_STEP=
	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}
main "$@"
