#!/bin/sh
# CPU topology as the guest kernel derived it (CPUID, APIC ids), for the host-side topology tests:
# one line per CPU with its package, die, core and thread siblings, then nproc.
for dir in /sys/devices/system/cpu/cpu[0-9]*; do
    t="$dir/topology"
    echo "topology: ${dir##*/} pkg=$(cat "$t/physical_package_id") die=$(cat "$t/die_id" 2>/dev/null) core=$(cat "$t/core_id") threads=$(cat "$t/thread_siblings_list") cores=$(cat "$t/core_siblings_list")"
done
echo "topology: vendor=$(awk -F': ' '/^vendor_id/ { print $2; exit }' /proc/cpuinfo) flags=$(grep -o -w -e topoext -e ht -e cmp_legacy /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "topology: nproc=$(nproc)"
exit 0
