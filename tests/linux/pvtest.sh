#!/bin/sh
# SPDX-License-Identifier: MIT
# The Xen PV tier's script (tests/linux/test_xenpv.py), run by the busybox
# initramfs's /init for vmmd.run=pvtest: each line it prints starts with
# "pvtest:" and the test reads them back from the console. vmmd.forks=N
# sets the fork+exec count (default 1000); times come from /proc/uptime.
forks=1000
for word in $(cat /proc/cmdline); do
	case $word in vmmd.forks=*) forks=${word#vmmd.forks=} ;; esac
done
now() { cut -d' ' -f1 /proc/uptime; }
echo "pvtest: uname $(uname -a)"
echo "pvtest: arith $((6 * 7)) $((1 << 20))"
echo "pvtest: interrupts $(grep -c xen /proc/interrupts) xen lines; timer $(grep -c timer /proc/interrupts)"
echo "pvtest: pipe $(echo vmmd-pv | tr a-z A-Z | rev | wc -c)"
t0=$(now)
i=0
while [ $i -lt "$forks" ]; do
	/bin/true
	i=$((i + 1))
done
t1=$(now)
echo "pvtest: forks $forks from $t0 to $t1"
t0=$(now)
sum=$(dd if=/dev/zero bs=1M count=64 2>/dev/null | sha256sum)
t1=$(now)
echo "pvtest: sha256 ${sum%% *} from $t0 to $t1"
echo "pvtest: done"
