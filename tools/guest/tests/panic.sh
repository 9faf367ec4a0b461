#!/bin/sh
# Panics the kernel (sysrq c): the pvpanic driver tells the VMM, which exits with code 3 (guest panic) even with
# panic=-1, where the kernel would reset the machine right after.
echo "panic: pvpanic bound=$(ls /sys/bus/platform/drivers/pvpanic-mmio 2>/dev/null | grep -c QEMU0001)"
echo 1 > /proc/sys/kernel/sysrq
echo "panic: crashing the kernel"
echo c > /proc/sysrq-trigger
echo "panic: still alive"
exit 1
