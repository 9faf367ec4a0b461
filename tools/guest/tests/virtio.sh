#!/bin/sh
# virtio over PCI or MMIO, as the stock kernel's drivers see it: PCI functions and their IRQs, the virtio-mmio
# platform devices bound (ACPI LNRO0005), then per device present:
#   /dev/vda  — print the host's pattern from sector 0, write "GUEST:<pattern>" to sector 8 (offset 4096), sync;
#               write "DISCARD-ME" to sector 32, sync, and discard sectors 32-63 (blkdiscard)
#   /dev/hvc0 — write a line carrying this boot's id (the host finds it in the virtio console's output)
#   /dev/hwrng — read 16 bytes
# Every line starts with "virtio: " so the host-side test can pick them out of the serial console.
say() { echo "virtio: $*"; }

say "boot_id=$(cat /proc/sys/kernel/random/boot_id)"
for d in /sys/bus/pci/devices/*; do
    [ -e "$d" ] || continue
    drv=""
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    say "pci $(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") class=$(cat "$d/class") irq=$(cat "$d/irq") driver=$drv"
done
for d in /sys/bus/platform/drivers/virtio-mmio/*/; do
    [ -d "$d" ] || continue
    for v in "$d"virtio*; do
        [ -e "$v/device" ] || continue
        say "mmio $(basename "$d") $(cat "$v/vendor"):$(cat "$v/device") driver=$(basename "$(readlink "$v/driver")")"
    done
done
dmesg | grep -iE 'pci 0000|PCI:|virtio|IOAPIC\[|MP-BIOS|IRQ.*level' | sed 's/^/virtio: dmesg /'

if [ -b /dev/vda ]; then
    say "vda sectors=$(cat /sys/block/vda/size) ro=$(cat /sys/block/vda/ro)"
    pattern=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000\n')
    say "vda read=$pattern"
    if [ "$(cat /sys/block/vda/ro)" = "0" ]; then
        printf 'GUEST:%s' "$pattern" | dd of=/dev/vda bs=512 seek=8 count=1 conv=sync,notrunc 2>/dev/null
        rc=$?
        sync
        say "vda wrote rc=$rc"
        say "vda reread=$(dd if=/dev/vda bs=512 skip=8 count=1 iflag=direct 2>/dev/null | tr -d '\000\n')"
        q=/sys/block/vda/queue
        say "vda discard_max_bytes=$(cat $q/discard_max_bytes) write_zeroes_max_bytes=$(cat $q/write_zeroes_max_bytes)"
        # Sectors 32-63 (16 KiB at 16384): a marker written and synced, then discarded (the host checks the image).
        printf 'DISCARD-ME' | dd of=/dev/vda bs=512 seek=32 count=1 conv=sync,notrunc 2>/dev/null
        sync
        blkdiscard -o 16384 -l 16384 /dev/vda
        say "vda discard rc=$?"
    fi
fi

if [ -c /dev/hvc0 ]; then
    echo "hvc0: hello from the guest boot_id=$(cat /proc/sys/kernel/random/boot_id)" > /dev/hvc0
    say "hvc0 written rc=$?"
fi

if [ -c /dev/hwrng ]; then
    say "hwrng current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
    say "hwrng bytes=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')"
fi

grep -iE 'virtio|CPU0' /proc/interrupts | sed 's/^/virtio: interrupts /'
say "done"
exit 0
