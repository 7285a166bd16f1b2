#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# 200 insmod/rmmod cycles in a row with the simulator: each must succeed;
# leaks and splats are judged by the harness after the boot.
. "$(dirname "$0")/ktap.sh"
CYCLES=${CYCLES:-200}
needs_own_load
echo "1..1"
i=0
while [ $i -lt "$CYCLES" ]; do
	insmod "$MOD" backend=sim || break
	rmmod hv_evlog || break
	i=$((i + 1))
done
if [ $i = "$CYCLES" ]; then
	echo "ok 1 $CYCLES insmod/rmmod cycles"
else
	echo "not ok 1 $CYCLES insmod/rmmod cycles # stopped after $i"
	exit 1
fi
