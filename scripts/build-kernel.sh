#!/usr/bin/env bash
# Builds the test kernel once per cache key (see scripts/env.sh) into
# $HV_EVLOG_CACHE/kbuild-7.2-<key>; a warm run only checks the stamp.
set -euo pipefail
. "$(dirname "$0")/env.sh"

die() { printf 'build-kernel: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'build-kernel: %s\n' "$*" >&2; }

out=$(kernel_build_dir)
# `make` in the repo finds the test kernel through this link.
link_current() { ln -sfn "$out" "$HV_EVLOG_CACHE/kbuild-current"; echo "$out"; }

if [ -f "$out/.hv-evlog-built" ]; then
	link_current
	exit 0
fi

src=$HV_EVLOG_CACHE/src/linux-7.2-$(dpkg-query -W -f='${Version}' linux-source-7.2)
if [ ! -f "$src/.extracted" ]; then
	say "extracting $KSRC_TARBALL"
	rm -rf "$src" && mkdir -p "$src"
	tar -xJf "$KSRC_TARBALL" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi

[ -n "$LIBCLANG_PATH" ] || die "libclang not found; run scripts/setup.sh"
mkdir -p "$out"
mk() { make -C "$src" O="$out" LLVM= -j"$(nproc)" "$@"; }
say "configuring in $out"
mk -s rustavailable >&2 || die "Rust toolchain not usable by kbuild (see above)"
mk -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$HV_EVLOG_ROOT/vm/kernel.config" >/dev/null
mk -s olddefconfig >/dev/null
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$HV_EVLOG_ROOT/vm/kernel.config" | while IFS= read -r line; do
	grep -qx "$line" "$out/.config" || echo "$line"
done)
[ -z "$missing" ] || die "options dropped by Kconfig (unmet dependencies): ${missing//$'\n'/ }"
say "building (4 to 9 minutes on 2 cores; log in $out/build.log)"
if ! mk all > "$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	die "kernel build failed; full log in $out/build.log"
fi
touch "$out/.hv-evlog-built"
link_current
