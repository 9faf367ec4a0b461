#!/bin/sh
# Short CPU census for the many-vCPU boot test: how many CPUs came up, and where the last one sits.
last=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/topology
echo "cpus: nproc=$(nproc) online=$(cat /sys/devices/system/cpu/online) last=pkg$(cat $last/physical_package_id),threads$(cat $last/thread_siblings_list)"
exit 0
