#!/bin/sh
# Sequential direct-I/O throughput of /dev/vda (tools/bench/disk.sh): 64 MiB read, then 64 MiB written, 1 MiB blocks.
# Debian's busybox dd prints no rate line, so the time comes from /proc/uptime (10 ms resolution).
# Output: "diskbench: read 64 MiB in S s = R MB/s" (MB = 10^6 bytes), likewise for write.
if [ ! -b /dev/vda ]; then
    echo "diskbench: no /dev/vda"
    exit 1
fi
MIB=${DISKBENCH_MIB:-64}
up() { cut -d' ' -f1 /proc/uptime; }
rate() { # label start end
    awk -v l="$1" -v a="$2" -v b="$3" -v m="$MIB" 'BEGIN {
        s = b - a; if (s <= 0) s = 0.005;
        printf "diskbench: %s %d MiB in %.2f s = %.1f MB/s\n", l, m, s, m * 1048576 / s / 1e6 }'
}
echo "diskbench: vda sectors=$(cat /sys/block/vda/size)"
t0=$(up); dd if=/dev/vda of=/dev/null bs=1M count="$MIB" iflag=direct 2>/dev/null || echo "diskbench: read failed"; t1=$(up)
rate read "$t0" "$t1"
t0=$(up); dd if=/dev/zero of=/dev/vda bs=1M count="$MIB" oflag=direct 2>/dev/null || echo "diskbench: write failed"; t1=$(up)
rate write "$t0" "$t1"
sync
exit 0
