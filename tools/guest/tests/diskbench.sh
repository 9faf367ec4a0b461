#!/bin/sh
# Sequential direct-I/O throughput of /dev/vda (tools/bench/disk.sh): 64 MiB read, then 64 MiB written, 1 MiB blocks.
# busybox dd prints "... bytes (...) copied, S seconds, R/s"; lines start with "diskbench: ".
if [ ! -b /dev/vda ]; then
    echo "diskbench: no /dev/vda"
    exit 1
fi
echo "diskbench: vda sectors=$(cat /sys/block/vda/size)"
echo "diskbench: read $(dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>&1 | tail -n 1)"
echo "diskbench: write $(dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct 2>&1 | tail -n 1)"
sync
exit 0
