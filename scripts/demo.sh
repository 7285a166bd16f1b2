#!/usr/bin/env bash
# The demo: builds what is missing, boots the 2-node VM, loads hv_evlog,
# shows what it did, unloads it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
prepare_kernel
build_module
step "the hv-evlog tool (static, for the guest)"
build_cli
step "booting the 2node VM (2 nodes x 2 CPUs)"
python3 "$HV_EVLOG_ROOT/vm/run.py" --kdir "$KDIR" --topology 2node --mode demo \
	--append quiet --module "$HV_EVLOG_ROOT/hv_evlog.ko" \
	--guest-file "$HV_EVLOG_ROOT/vm/demo.sh" \
	--guest-file "$HV_EVLOG_CLI" \
	--out "$HV_EVLOG_ROOT/out/demo"
