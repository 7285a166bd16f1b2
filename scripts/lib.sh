# Shared steps of scripts/test.sh and scripts/demo.sh.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

step() { printf '\n==> %s\n' "$*" >&2; }

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
	local log=$HV_EVLOG_ROOT/out/module-build.log
	mkdir -p "$HV_EVLOG_ROOT/out"
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
