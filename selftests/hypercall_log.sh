#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# For a maintainer on a real Hyper-V root partition: prints the hypercalls
# hv_evlog made, as the hypervisor was handed them, to compare with
# Microsoft's driver (drivers/hv/diag/mshv_trace.c and mshv_diaglog.c in
# microsoft/CBL-Mariner-Linux-Kernel) call by call: code, fast or slow, rep
# count, the input bytes in hex and the status the hypervisor answered.
#
#   insmod hv_evlog.ko log_hypercalls=256 [type=local|global|system ...]
#   selftests/hypercall_log.sh            # the log, one call per line
#   selftests/hypercall_log.sh --failed   # only the calls that failed
#
# Set-up's calls are all there (up to N); teardown's happen after the debugfs
# directory is gone, so to see them run the stop path you want to check
# (e.g. hv-evlog flush) before rmmod. Not a TAP test: it changes nothing.
F=${HV_EVLOG_DEBUGFS:-/sys/kernel/debug}/hv_evlog/hypercalls
if [ ! -r "$F" ]; then
	echo "hypercall_log.sh: $F not readable (hv_evlog not loaded, debugfs not mounted, or not root)" >&2
	exit 1
fi
if grep -q '^# off' "$F"; then
	echo "hypercall_log.sh: the log is off; reload with: insmod hv_evlog.ko log_hypercalls=256 ..." >&2
	exit 2
fi
case "$1" in
--failed) awk 'NR <= 2 || ($1 ~ /^[0-9]+$/ && $9 != "0x0000")' "$F" ;;
"") cat "$F" ;;
*) echo "usage: hypercall_log.sh [--failed]" >&2; exit 64 ;;
esac
