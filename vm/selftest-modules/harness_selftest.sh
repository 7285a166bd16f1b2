#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Loads the two misbehaving test modules; the host-side run must then report
# both the kmemleak leak and the console WARNING (vm/run.py --expect-fail).
echo "1..2"
insmod /lib/modules/hv_evlog_harness_leak.ko && echo "ok 1 leak module loaded" || echo "not ok 1 leak module loaded"
insmod /lib/modules/hv_evlog_harness_warn.ko && echo "ok 2 warn module loaded" || echo "not ok 2 warn module loaded"
