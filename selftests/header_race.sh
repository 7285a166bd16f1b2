#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The header race: device_test's dev.mmap_headers, run LOOPS
# times (default 200) in one boot against one group whose simulator
# rewrites every header hundreds of times a second (one-page buffers,
# circular mode, so writing never stops). A reader that snapshots the way
# the kernel does (state, fields, state again) must never see a header
# half written.
. "$(dirname "$0")/ktap.sh"
LOOPS=${LOOPS:-200}
needs_own_load
echo "1..3"
insmod "$MOD" backend=sim buffer_pages=1 mode=circular sim_rate=20000
result $? "insmod with a fast circular simulator" "exit $?"
i=0
bad=0
while [ $i -lt "$LOOPS" ]; do
	if ! "$(dirname "$0")"/device_test -r dev.mmap_headers > /tmp/header_race.out 2>&1; then
		bad=$((bad + 1))
		[ $bad -le 3 ] && sed 's/^/# /' /tmp/header_race.out | grep -v '^# *ok' | head -20
	fi
	i=$((i + 1))
done
check "dev.mmap_headers failed in none of $LOOPS runs" 0 "$bad"
rmmod hv_evlog
result $? "rmmod succeeds" "exit $?"
[ $fails -eq 0 ]
