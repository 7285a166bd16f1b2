#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Checks the reST documentation with plain docutils (Debian's
# python3-docutils, installed by scripts/setup.sh): any message of level
# WARNING or above fails, with the message, file and line.
#
#   scripts/check-docs.sh            Documentation/hv_evlog.rst
#   scripts/check-docs.sh FILE...    those files instead
#
# Plain docutils knows no Sphinx or kernel directives (kernel-doc, c:func,
# ...), so using one fails here too. Code blocks are not highlighted
# (syntax_highlight none), so the check needs no Pygments and no network.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- "$ROOT/Documentation/hv_evlog.rst"
fi

# Debian's interpreter first: its docutils is the one setup.sh installs.
PY=
for p in /usr/bin/python3 python3; do
	if command -v "$p" > /dev/null && "$p" -c 'import docutils' 2> /dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	echo "check-docs: no python3 with docutils; install python3-docutils (scripts/setup.sh does)" >&2
	exit 2
fi

status=0
for f in "$@"; do
	if [ ! -r "$f" ]; then
		echo "check-docs: $f: cannot read" >&2
		status=1
		continue
	fi
	if "$PY" - "$f" << 'EOF'
import io
import sys

import docutils
import docutils.core
import docutils.utils

path = sys.argv[1]
with open(path, encoding="utf-8") as fh:
    source = fh.read()

messages = io.StringIO()
settings = {
    # Report and stop at the first WARNING (level 2) or worse.
    "report_level": 2,
    "halt_level": 2,
    "warning_stream": messages,
    # No Pygments needed: code blocks are kept as plain literal text.
    "syntax_highlight": "none",
    # Nothing is read from elsewhere, and no raw output is accepted.
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "input_encoding": "utf-8",
    "embed_stylesheet": False,
    "_disable_config": True,
}
try:
    # The HTML writer runs every transform, so references, substitutions
    # and tables are all resolved, not only parsed.
    docutils.core.publish_string(
        source=source,
        source_path=path,
        writer_name="html5",
        settings_overrides=settings,
    )
except docutils.utils.SystemMessage as e:
    text = messages.getvalue().strip() or str(e)
    print(f"check-docs: {path}: reST problem (docutils {docutils.__version__}):",
          file=sys.stderr)
    print(text, file=sys.stderr)
    sys.exit(1)
if messages.getvalue().strip():
    print(f"check-docs: {path}:", file=sys.stderr)
    print(messages.getvalue().strip(), file=sys.stderr)
    sys.exit(1)
print(f"check-docs: {path}: ok (docutils {docutils.__version__})")
EOF
	then
		:
	else
		status=1
	fi
done
exit $status
