#!/bin/busybox sh
# shellcheck shell=dash # busybox ash, checked as the POSIX sh it is close to
# Guest /init: mounts the pseudo file systems, runs the test list as one TAP
# stream (each test's own TAP nested below it), asks kmemleak for a scan,
# and powers off.  The report (TAP, kmemleak, markers) goes to ttyS1, which
# the host (vm/run.py) keeps apart from the kernel's console on ttyS0.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
# Boot-time allocations are not ours: only what happens from here is judged.
[ -w /sys/kernel/debug/kmemleak ] && echo clear > /sys/kernel/debug/kmemleak

# busybox modinfo wants a modules.dep even when given a path.
mkdir -p /lib/modules/"$(uname -r)" && touch /lib/modules/"$(uname -r)"/modules.dep
exec 3>/dev/ttyS1
report() { echo "$@" >&3; }
# shellcheck source=/dev/null # written by vm/run.py into the initramfs
. /etc/hv-evlog/env
mode=$(cat /etc/hv-evlog/mode)
echo "HV_EVLOG_BOOTED"
case "$mode" in
demo)
	sh /tests/demo.sh
	;;
*)
	# shellcheck disable=SC2046 # the test list: one test per word
	set -- $(cat /etc/hv-evlog/tests)
	report "HV_EVLOG_TAP_BEGIN"
	report "TAP version 13"
	report "1..$#"
	n=0
	for t in "$@"; do
		n=$((n + 1))
		report "# $t"
		t0=$(cut -d' ' -f1 /proc/uptime)
		{ /tests/"$t" 2>&1; echo $? > /tmp/rc; } | sed 's/^/    /' >&3
		rc=$(cat /tmp/rc)
		report "# $t took $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s"
		case "$rc" in
		0) report "ok $n $t" ;;
		4) report "ok $n $t # SKIP" ;;
		*) report "not ok $n $t # exit $rc" ;;
		esac
	done
	report "HV_EVLOG_TAP_END"
	;;
esac

if [ -w /sys/kernel/debug/kmemleak ]; then
	# kmemleak only reports objects older than 5 s: wait, then scan twice
	# (an object must be seen unreferenced in two scans to be reported).
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	report "HV_EVLOG_KMEMLEAK_BEGIN"
	cat /sys/kernel/debug/kmemleak >&3
	report "HV_EVLOG_KMEMLEAK_END"
else
	report "HV_EVLOG_KMEMLEAK_UNAVAILABLE"
fi
report "HV_EVLOG_DONE"
# A test may ask for a reboot instead (selftests/reboot.sh); QEMU runs with
# -no-reboot, so either ends the boot.
if [ -e /tmp/hv-evlog-reboot ]; then
	reboot -f
fi
poweroff -f
