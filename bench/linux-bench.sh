#!/bin/sh
# SPDX-License-Identifier: MIT
# B10-B12's guest side (bench/linux_pv.py), run by the busybox initramfs's
# /init for vmmd.run=bench, under vmmd and under QEMU alike. Before each
# phase it waits for a line on the console (the harness takes vmmd's
# stats.get first); each result line is "bench: NAME VALUE T0 T1" with
# times from /proc/uptime. vmmd.forks=N sets the fork+exec count.
forks=50
for word in $(cat /proc/cmdline); do
	case $word in vmmd.forks=*) forks=${word#vmmd.forks=} ;; esac
done
now() { cut -d' ' -f1 /proc/uptime; }
echo "bench: ready $(now)"
read go
t0=$(now)
i=0
while [ $i -lt "$forks" ]; do
	/bin/true
	i=$((i + 1))
done
t1=$(now)
echo "bench: forks $forks $t0 $t1"
dd if=/dev/zero of=/tmp/z bs=1M count=64 2>/dev/null
read go
t0=$(now)
sum=$(sha256sum /tmp/z)
t1=$(now)
echo "bench: sha_file ${sum%% *} $t0 $t1"
rm -f /tmp/z
read go
t0=$(now)
sum=$(dd if=/dev/zero bs=1M count=64 2>/dev/null | sha256sum)
t1=$(now)
echo "bench: sha_pipe ${sum%% *} $t0 $t1"
echo "bench: done $(now)"
