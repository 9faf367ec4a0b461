#!/bin/sh
# Prints "tick N" five times a second, ticker.count=N times (default 0: until the VM stops). The serve tests watch it:
# a paused VM's ticks stop advancing and go on after resume. With a /dev/vda, each tick also reads one of its blocks
# with direct I/O (a steady stream of virtio-blk requests for faults to hit).
COUNT=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in ticker.count=*) COUNT=${arg#ticker.count=} ;; esac
done
case "$COUNT" in ''|*[!0-9]*) echo "ticker: bad ticker.count"; exit 1 ;; esac
i=0
while [ "$COUNT" -eq 0 ] || [ "$i" -lt "$COUNT" ]; do
    i=$((i + 1))
    [ -b /dev/vda ] && dd if=/dev/vda of=/dev/null bs=4096 count=1 skip=$((i % 64)) iflag=direct 2>/dev/null
    echo "tick $i"
    usleep 200000
done
exit 0
