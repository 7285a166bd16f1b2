#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What a fresh machine meets first, checked in seconds on any machine: the
# scripts' shared files are sourced, and set-up is asked what it would
# install, with HV_EVLOG_CACHE pointing at a new empty directory and under
# the shell options the scripts themselves use. A warm cache hides a first
# step that dies; this does not.
#
#   scripts/check-fresh.sh    prints one line per check; exits 1 on the
#                             first that fails
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Only HV_EVLOG_CACHE is given: the tools directory must follow from it (a
# caller such as scripts/test.sh has its own exported).
unset HV_EVLOG_TOOLS
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT

fail() { printf 'check-fresh: %s\n' "$*" >&2; exit 1; }
ok() { printf 'check-fresh: ok: %s\n' "$*"; }

# Each file a script sources, under `set -euo pipefail`, must load and must
# take the cache it is given (and hand it on to child processes).
for f in env.sh lib.sh; do
	# No `&&` after the sourcing: errexit does not apply to the left of
	# one, and a failure there is what this is for.
	# shellcheck disable=SC2016 # expanded by the inner shell
	got=$(cd "$root" && HV_EVLOG_CACHE="$empty" bash -euo pipefail -c \
		'. scripts/'"$f"'
		HV_EVLOG_STEP=
		bash -c "echo \$HV_EVLOG_CACHE \${HV_EVLOG_TOOLS-unset}"' 2>&1) ||
		fail "sourcing scripts/$f with an empty cache under set -euo pipefail failed: ${got:-no output}"
	[ "$got" = "$empty $empty/tools" ] ||
		fail "scripts/$f does not hand the cache on to child processes (they see '$got', not '$empty $empty/tools')"
	ok "scripts/$f loads with an empty cache and exports it"
done

# Set-up lists what it would install, into the empty cache, and writes
# nothing there.
out=$(HV_EVLOG_CACHE=$empty "$root/scripts/setup.sh" --list 2>&1) ||
	fail "scripts/setup.sh --list with an empty cache failed: ${out:-no output}"
for want in "$empty/tools/libclang-venv" "$empty/tools/etl-venv"; do
	grep -q "^setup: would install: .* into $want\$" <<< "$out" ||
		fail "scripts/setup.sh --list does not say it would install into $want; it said: ${out:-nothing}"
done
[ -z "$(ls -A "$empty")" ] || fail "scripts/setup.sh --list wrote into the cache: $(ls -A "$empty")"
ok "scripts/setup.sh --list names what it would install into an empty cache, and installs nothing"
