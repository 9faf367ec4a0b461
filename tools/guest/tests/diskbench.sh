#!/bin/sh
# Sequential direct-I/O throughput of /dev/vda (tools/bench/disk.sh): PASSES passes of MIB MiB read, then PASSES
# passes of MIB MiB written, 1 MiB blocks (dd iflag/oflag=direct), every pass from sector 0.
# Kernel command line: diskbench.mib=N (default 256, clamped to the disk), diskbench.passes=N (default 3),
# diskbench.fsync=1 (write passes end with an fsync: conv=fsync, so a FLUSH is timed too).
# Debian's busybox dd prints no rate line, so the time comes from /proc/uptime (10 ms resolution: keep passes >= 1 s).
# Output, one line per pass ("MB" = 10^6 bytes; reqs = requests the block layer completed for the pass):
#   diskbench: read pass 1 256 MiB in S s = R MB/s reqs=N
#   diskbench: write pass 1 256 MiB in S s = R MB/s reqs=N
# and "diskbench: queue ..." once: what the driver made of the device's configuration; "diskbench: cpu ..." some
# CPU flags the guest sees; "zero" passes time dd from /dev/zero to /dev/null (the guest-side work of a write pass).
if [ ! -b /dev/vda ]; then
    echo "diskbench: no /dev/vda"
    exit 1
fi
MIB=256
PASSES=3
FSYNC=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        diskbench.mib=*) MIB=${arg#diskbench.mib=} ;;
        diskbench.passes=*) PASSES=${arg#diskbench.passes=} ;;
        diskbench.fsync=1) FSYNC=conv=fsync ;;
    esac
done
case "$MIB$PASSES" in *[!0-9]*|'') echo "diskbench: bad diskbench.mib/passes"; exit 1 ;; esac
sectors=$(cat /sys/block/vda/size)
[ "$MIB" -gt $((sectors / 2048)) ] && MIB=$((sectors / 2048))
[ "$MIB" -ge 1 ] || { echo "diskbench: disk smaller than 1 MiB"; exit 1; }

q=/sys/block/vda/queue
echo "diskbench: vda sectors=$sectors mib=$MIB passes=$PASSES"
echo "diskbench: queue max_sectors_kb=$(cat $q/max_sectors_kb) max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb)" \
    "max_segments=$(cat $q/max_segments) max_segment_size=$(cat $q/max_segment_size)" \
    "nr_requests=$(cat $q/nr_requests) hw_queues=$(ls /sys/block/vda/mq 2>/dev/null | wc -l)" \
    "features=$(cat /sys/block/vda/device/features 2>/dev/null)"

up() { cut -d' ' -f1 /proc/uptime; }
# Completed requests of vda: field 4 (reads) or 8 (writes) of /proc/diskstats.
reqs() { awk -v f="$1" '$3 == "vda" { print $f }' /proc/diskstats; }
rate() { # label pass start end requests
    awk -v l="$1" -v p="$2" -v a="$3" -v b="$4" -v n="$5" -v m="$MIB" 'BEGIN {
        s = b - a; if (s <= 0) s = 0.005;
        printf "diskbench: %s pass %d %d MiB in %.2f s = %.1f MB/s reqs=%d\n", l, p, m, s, m * 1048576 / s / 1e6, n }'
}
pass() { # label field dd-args...
    label=$1 field=$2
    shift 2
    i=1
    while [ "$i" -le "$PASSES" ]; do
        r0=$(reqs "$field")
        t0=$(up)
        dd "$@" bs=1M count="$MIB" 2>/dev/null || echo "diskbench: $label failed"
        t1=$(up)
        r1=$(reqs "$field")
        rate "$label" "$i" "$t0" "$t1" $((r1 - r0))
        i=$((i + 1))
    done
}
# The guest CPU's share of a write pass: dd filling its buffer from /dev/zero, no disk (reqs stays 0).
flags=$(grep -m1 '^flags' /proc/cpuinfo)
have=""
for f in erms fsrm rep_good avx2 avx512f pdpe1gb x2apic tsc_deadline_timer hypervisor; do
    case " ${flags#*:} " in *" $f "*) have="$have $f" ;; esac
done
echo "diskbench: cpu$have"
pass zero 4 if=/dev/zero of=/dev/null
pass read 4 if=/dev/vda of=/dev/null iflag=direct
pass write 8 if=/dev/zero of=/dev/vda oflag=direct $FSYNC
sync
exit 0
