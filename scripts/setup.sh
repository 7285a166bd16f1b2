#!/usr/bin/env bash
# Idempotent set-up: installs everything hv_evlog needs to build a Rust-enabled
# 7.2 test kernel, the module, and to boot QEMU NUMA guests.  Every package
# comes from the registries the machine's own package clients already use; no
# host name is written here: the Debian mirror is read from the machine's own
# apt source.  Re-running with everything present takes seconds.
#
#   scripts/setup.sh          installs what is missing
#   scripts/setup.sh --list   only lists what it would install, one line
#                             each, and changes nothing (no root needed)
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }
LIST=0
case ${1-} in
--list) LIST=1 ;;
"") ;;
*) printf 'usage: %s [--list]\n' "$0" >&2; exit 2 ;;
esac
# would WHAT: in --list mode says WHAT would be installed and succeeds;
# otherwise fails, so that `would X || install X` installs.
would() {
	[ "$LIST" = 1 ] || return 1
	printf 'setup: would install: %s\n' "$*"
}
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Where the venvs go: the cache scripts/env.sh names (HV_EVLOG_CACHE).
. "$(dirname "$0")/env.sh"
TOOLS_DIR=$HV_EVLOG_TOOLS
BINDGEN_VERSION=0.72.1
LIBCLANG_VERSION=18.1.1
# ETL readers nobody here wrote, for scripts/check-captures.py (PyPI).
ETL_READERS=("dissect.etl==3.14" "etl-parser==1.0.1")
DEB_PKGS=(busybox-static bc bison flex libelf-dev libssl-dev
          cpio xz-utils make gcc python3-venv python3-docutils kmod file
          shellcheck perl)

need_root() { [ "$(id -u)" = 0 ] || die "run as root (installs Debian packages)"; }

# The mirror URI of the machine's existing Debian source (deb822 or one-line).
debian_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && /bookworm( |$)/ {print u; exit}' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	[ -f /etc/apt/sources.list ] &&
		awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list
}

# Two backports suites on the machine's own mirror, both pinned low so that
# nothing moves unless named: trixie-backports for linux-source-7.2 and the
# rust-src matching rustc; bookworm-backports for a QEMU that matches the
# image's own qemu-utils (bookworm's 7.2 is refused by its Breaks).
add_backports() {
	local src=/etc/apt/sources.list.d/hv-evlog-backports.sources
	local pin=/etc/apt/preferences.d/hv-evlog-backports
	[ -f "$src" ] && [ -f "$pin" ] && return 1
	local mirror suite
	mirror=$(debian_mirror)
	[ -n "$mirror" ] || die "no Debian bookworm apt source found to take the mirror URI from"
	say "adding trixie-backports and bookworm-backports from $mirror, pin priority 100"
	: > "$src"; : > "$pin"
	for suite in trixie-backports bookworm-backports; do
		printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' \
			"$mirror" "$suite" >> "$src"
		printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n\n' "$suite" >> "$pin"
	done
	return 0
}

rustc_version() { rustc --version | awk '{print $2}'; }

install_debs() {
	local missing=() p updated=0
	for p in "${DEB_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	local rv
	rv=$(rustc_version)
	command -v qemu-system-x86_64 >/dev/null || missing+=("qemu-system-x86")
	[ -f /usr/src/linux-source-7.2.tar.xz ] || missing+=("linux-source-7.2/trixie-backports")
	if ! dpkg-query -W -f='${Version}' rust-src 2>/dev/null | grep -q "^${rv}"; then
		missing+=("rust-src/trixie-backports")
	fi
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$LIST" = 1 ]; then
		would "Debian packages ${missing[*]}"
		return
	fi
	if add_backports; then updated=1; fi
	need_root
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [ $updated = 1 ] || ! ls /var/lib/apt/lists/*trixie-backports*Packages* >/dev/null 2>&1; then
		apt-get update -qq
	fi
	if printf '%s\n' "${missing[@]}" | grep -q '^rust-src/'; then
		# Several rust-src versions live in backports: take the one of rustc.
		local versions match
		versions=$(apt-cache madison rust-src | awk '{print $3}')
		match=$(printf '%s\n' "$versions" | awk -v v="$rv" 'index($0, v "+") == 1 {print; exit}')
		[ -n "$match" ] ||
			die "rustc is $rv but Debian offers no rust-src $rv (offered: ${versions//$'\n'/ }). Switch rustup to one of those versions: rustup default <version>"
		missing=("${missing[@]/rust-src\/trixie-backports/rust-src=$match}")
	fi
	local qemu=()
	if printf '%s\n' "${missing[@]}" | grep -qx qemu-system-x86; then
		local rest=()
		for p in "${missing[@]}"; do
			[ "$p" = qemu-system-x86 ] || rest+=("$p")
		done
		missing=("${rest[@]}")
		qemu=(qemu-system-x86)
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	if [ ${#qemu[@]} -gt 0 ]; then
		apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null ||
			apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
	fi
}

check_rust_src() {
	local rv dv
	rv=$(rustc_version)
	dv=$(dpkg-query -W -f='${Version}' rust-src)
	case "$dv" in
	"$rv"*) ;;
	*) die "rustc $rv does not match Debian rust-src $dv; kbuild needs the library source of the exact compiler. Switch rustup to $dv's version or install rust-src $rv" ;;
	esac
	[ -d /usr/lib/rustlib/src/rust/library/core ] || die "rust-src installed but /usr/lib/rustlib/src/rust/library is missing"
}

install_bindgen() {
	if command -v bindgen >/dev/null && bindgen --version | grep -q " $BINDGEN_VERSION\$"; then
		return
	fi
	would "bindgen-cli $BINDGEN_VERSION (cargo)" && return
	say "installing bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
}

install_libclang() {
	local venv=$TOOLS_DIR/libclang-venv
	if [ -f "$venv/.ok-$LIBCLANG_VERSION" ]; then return; fi
	would "libclang $LIBCLANG_VERSION (PyPI) into $venv" && return
	say "installing libclang $LIBCLANG_VERSION (PyPI wheel) into $venv"
	mkdir -p "$TOOLS_DIR"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet "libclang==$LIBCLANG_VERSION"
	touch "$venv/.ok-$LIBCLANG_VERSION"
}

# A venv with the ETL readers; its interpreter is what test.sh runs the
# capture checks with.
install_etl_readers() {
	local venv=$TOOLS_DIR/etl-venv stamp
	stamp=$venv/.ok-$(printf '%s+' "${ETL_READERS[@]}")
	if [ -f "$stamp" ]; then return; fi
	would "${ETL_READERS[*]} (PyPI) into $venv" && return
	say "installing ${ETL_READERS[*]} (PyPI) into $venv"
	mkdir -p "$TOOLS_DIR"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet "${ETL_READERS[@]}"
	touch "$stamp"
}

rustup_component() {
	rustup component list --installed 2>/dev/null | grep -q "^$1" && return
	would "rustup component $1" && return
	rustup component add "$1"
}

main() {
	install_debs
	[ "$LIST" = 1 ] || check_rust_src
	rustup_component rustfmt
	rustup_component clippy
	install_bindgen
	install_libclang
	install_etl_readers
}
main "$@"
