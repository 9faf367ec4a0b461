#!/bin/sh
# Boot facts for the host-side boot test: CPUs, memory and the e820 map the kernel received.
echo "boot: nproc=$(nproc)"
echo "boot: cpuinfo_processors=$(grep -c '^processor' /proc/cpuinfo)"
echo "boot: memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
if [ -d /sys/firmware/memmap ]; then
    for entry in /sys/firmware/memmap/*; do
        echo "boot: e820 $(cat "$entry/start")-$(cat "$entry/end") $(cat "$entry/type")"
    done
fi
dmesg | grep 'BIOS-e820:' | sed 's/^.*BIOS-e820: /boot: dmesg-e820 /'
echo "boot: modules=$(cut -d" " -f1 /proc/modules | sort | tr "\n" " ")"
echo "boot: cmdline=$(cat /proc/cmdline)"
# The timer the kernel chose: lapic-deadline when the VMM offers the TSC-deadline timer in CPUID.
echo "boot: clockevent=$(cat /sys/devices/system/clockevents/clockevent0/current_device 2>/dev/null)"
echo "boot: clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
exit 0
