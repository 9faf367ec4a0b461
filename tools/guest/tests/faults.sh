#!/bin/sh
# Data integrity under device faults (tests/Vmm.Tests/Faults): write 16 MiB (faults.mib=N on the command line) of pseudo-random data to /dev/vda with
# direct I/O, sync, drop caches, read it back with direct I/O and checksum both. The host crashes disk0 every N
# requests meanwhile; nothing acknowledged to the guest may be lost. Lines start with "faults: ".
say() { echo "faults: $*"; }
[ -b /dev/vda ] || { say "no /dev/vda"; exit 1; }
MIB=16
for arg in $(cat /proc/cmdline); do
    case "$arg" in faults.mib=*) MIB=${arg#faults.mib=} ;; esac
done
case "$MIB" in ''|*[!0-9]*) say "bad faults.mib"; exit 1 ;; esac
dd if=/dev/urandom of=/tmp/pattern bs=1M count=$MIB 2>/dev/null || { say "cannot make the pattern"; exit 1; }
say "pattern=$(md5sum /tmp/pattern | cut -d' ' -f1)"
dd if=/tmp/pattern of=/dev/vda bs=1M count=$MIB oflag=direct conv=fsync 2>/dev/null
say "write rc=$?"
sync
echo 3 > /proc/sys/vm/drop_caches
dd if=/dev/vda of=/tmp/readback bs=1M count=$MIB iflag=direct 2>/dev/null
say "read rc=$?"
say "readback=$(md5sum /tmp/readback | cut -d' ' -f1)"
say "io errors=$(dmesg | grep -c 'I/O error')"
say "done"
exit 0
