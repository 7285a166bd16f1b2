# Sourced by the scripts: toolchain paths and the cache key of the test kernel.
# shellcheck shell=bash
HV_EVLOG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HV_EVLOG_CACHE=${HV_EVLOG_CACHE:-/var/cache/hv-evlog}
HV_EVLOG_TOOLS=${HV_EVLOG_TOOLS:-$HV_EVLOG_CACHE/tools}
# Exported: setup.sh and build-kernel.sh run as child processes and must
# agree with the caller on where the cache is.
export HV_EVLOG_CACHE HV_EVLOG_TOOLS
# CI may run with a reduced environment: rustup and cargo find their
# toolchains through HOME, so take it from the password database if unset.
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
export HOME
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
# Empty until scripts/setup.sh has installed the wheel. This file is sourced
# under `set -euo pipefail`, so nothing here may fail on a machine where
# nothing is installed yet: a glob that matches nothing stays unexpanded.
LIBCLANG_PATH=
for d in "$HV_EVLOG_TOOLS"/libclang-venv/lib/python3*/site-packages/clang/native; do
	[ -d "$d" ] && { LIBCLANG_PATH=$d; break; }
done
export LIBCLANG_PATH
# shellcheck disable=SC2034 # used by build-kernel.sh, which sources this
KSRC_TARBALL=/usr/src/linux-source-7.2.tar.xz

# The kernel build is keyed by everything that changes its output: the
# config's settings ("# CONFIG_X is not set" is one), not its comments.
kernel_key() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-7.2
		grep -E '^(CONFIG_|# CONFIG_.* is not set$)' "$HV_EVLOG_ROOT/vm/kernel.config"
		rustc --version
		bindgen --version
		gcc --version | head -1
	} | sha256sum | cut -c1-16
}
kernel_build_dir() { echo "$HV_EVLOG_CACHE/kbuild-7.2-$(kernel_key)"; }
