#!/usr/bin/env bash
# boot-exits.sh — VM exits of one boot of the default guest (1 vCPU, 256 MiB, virtio-rng, script "boot", which resets
# at its end), once per kernel command-line variant given as an argument ("" for the base line), with `run --stats`:
# prints the exit totals and the PCI config (0xcf8), serial, unclaimed and PM lines of each. E.g., in the nested runner:
#   tools/nested/run-in-kvm.sh -- tools/bench/boot-exits.sh "" "acpi=off"
# Environment: BENCH_ACTORVMM (a build's actorvmm.dll or native actorvmm; default: the Release build of src/Host).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vmm=${BENCH_ACTORVMM:-$repo/src/Host/bin/Release/net10.0/actorvmm.dll}
guest=$repo/artifacts/guest
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "boot-exits.sh: no usable /dev/kvm here (the nested runner works too: tools/nested/run-in-kvm.sh -- $0)" >&2; exit 2; }
[ -f "$guest/bzImage" ] || { echo "boot-exits.sh: no default guest: tools/guest/build-guest.sh artifacts/guest" >&2; exit 2; }
case "$vmm" in *.dll) cmd=(dotnet "$vmm") ;; *) cmd=("$vmm") ;; esac
base="console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable actorvmm.script=boot"
[ $# -gt 0 ] || set -- ""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for extra in "$@"; do
    rc=0
    timeout 600 "${cmd[@]}" run --cpus 1 --memory 256M --rng --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" \
        --cmdline "$base $extra" --stats >"$log" 2>&1 || rc=$?
    echo "=== extra cmdline '$extra': rc=$rc, $(grep -c 'ACPI Error' "$log") ACPI errors"
    grep -E "exits handled|^  (pio_in|pio_out|mmio_read|mmio_write) |^  pio 0x(cf8|3f8|60[0-9a-f]) " "$log" | sed 's/ *$//'
done
