#!/bin/sh
# ACPI facts for the host-side ACPI test: the tables the kernel found, the devices its namespace holds, and
# what dmesg said about ACPI (errors included).
echo "acpi: nproc=$(nproc)"
echo "acpi: tables=$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
for dev in /sys/bus/acpi/devices/*; do
    [ -e "$dev/hid" ] && echo "acpi: device $(basename "$dev") hid=$(cat "$dev/hid")"
done
echo "acpi: pnp=$(cat /sys/bus/pnp/devices/*/id 2>/dev/null | tr '\n' ' ')"
echo "acpi: errors=$(dmesg | grep -c -i 'ACPI Error\|ACPI BIOS Error\|ACPI Exception')"
dmesg | grep -i 'acpi\|pnp\|PCI0\|pci_bus\|ttyS\|i8042\|pvpanic' | sed 's/^/acpi: dmesg /'
exit 0
