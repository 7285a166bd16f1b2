#!/usr/bin/env bash
# The demo: builds what is missing, boots the 2-node VM, loads hv_evlog,
# shows what it did, unloads it; ends by saving the guest's capture as ETL
# and as a trace in out/demo and naming the programs that open them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# This command's own directory (the test command keeps out/test).
OUT=$HV_EVLOG_ROOT/out/demo
rm -rf "$OUT" && mkdir -p "$OUT"
prepare_kernel
build_module
step "the hv-evlog tool (static, for the guest)"
build_cli
step "booting the 2node VM (2 nodes x 2 CPUs)"
python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --topology 2node --mode demo \
	--append quiet --module "$HV_EVLOG_ROOT/hv_evlog.ko" \
	--guest-file "$HV_EVLOG_ROOT/vm/demo.sh" \
	--guest-file "$HV_EVLOG_CLI" \
	--out "$OUT"
if tar -xzf "$OUT/2node.data" -C "$OUT" capture.etl capture.json 2>/dev/null; then
	cat <<EOF

The guest's capture, written on this machine:
  $OUT/capture.etl   Event Trace Log: open it in Windows Performance Analyzer
                     (wpa.exe) or dump it with 'tracerpt capture.etl' on Windows
  $OUT/capture.json  Trace Event Format: open it in Perfetto's UI
                     (ui.perfetto.dev, "Open trace file") or chrome://tracing
EOF
else
	echo "demo: the guest wrote no capture files to $OUT/2node.data" >&2
	exit 1
fi
