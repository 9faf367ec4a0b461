#!/usr/bin/env bash
# Sequential virtio-blk throughput inside the guest, ActorVmm beside Debian's QEMU, same kernel, initramfs, image
# and guest script (tools/guest/tests/diskbench.sh: busybox dd, 1 MiB blocks, 64 MiB, iflag/oflag=direct).
# Needs /dev/kvm; where there is none, run it in the nested runner:
#   dotnet build -c Release src/Host && tools/guest/build-guest.sh && tools/nested/run-in-kvm.sh -- tools/bench/disk.sh
# Environment: BENCH_IMG_DIR (default /tmp: inside the nested runner a RAM-backed tmpfs, so the figures measure the
# VMMs' data path, not the 9p share), BENCH_RUNS (default 1).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
guest=$repo/artifacts/guest
vmm=$repo/src/Host/bin/Release/net10.0/actorvmm.dll
imgdir=${BENCH_IMG_DIR:-/tmp}
runs=${BENCH_RUNS:-1}
cmdline="console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable actorvmm.script=diskbench"

[ -e /dev/kvm ] || { echo "disk.sh: no /dev/kvm: run it through tools/nested/run-in-kvm.sh" >&2; exit 2; }
[ -f "$vmm" ] || { echo "disk.sh: $vmm missing: dotnet build -c Release src/Host" >&2; exit 2; }
[ -f "$guest/bzImage" ] || { echo "disk.sh: no default guest: tools/guest/build-guest.sh" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "disk.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }

mkdir -p "$imgdir"
img=$(mktemp "$imgdir/bench-disk.XXXXXX.img")
log=$(mktemp "$imgdir/bench-log.XXXXXX")
trap 'rm -f "$img" "$log"' EXIT
# 128 MiB of non-zero data, so reads are not of a sparse hole.
head -c $((128 << 20)) /dev/urandom > "$img"

figures() { # $1 = label; reads the guest console in $log
    local r w
    r=$(grep -a 'diskbench: read' "$log" | sed "s/.*MiB in //" | tr -d '\r')
    w=$(grep -a 'diskbench: write' "$log" | sed "s/.*MiB in //" | tr -d '\r')
    printf '%-9s read: %-28s write: %s\n' "$1" "${r:-FAILED}" "${w:-FAILED}"
    [ -n "$r" ] && [ -n "$w" ]
}

ok=0
for run in $(seq 1 "$runs"); do
    : > "$log"
    dotnet "$vmm" run --memory 512M --cpus 1 --disk "$img" --serial "file:$log" --cmdline "$cmdline" \
        --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" </dev/null >/dev/null 2>"$log.err" || true
    figures "actorvmm" || { ok=1; tail -n 20 "$log" "$log.err" >&2; }
    rm -f "$log.err"

    : > "$log"
    cache=none
    if ! timeout 600 qemu-system-x86_64 -enable-kvm -M pc -cpu host -m 512 -smp 1 -nodefaults -no-user-config \
        -display none -no-reboot -serial "file:$log" -kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz" \
        -drive "file=$img,if=virtio,format=raw,cache=none" -append "$cmdline" 2>"$log.err"; then
        if grep -q -i 'direct\|O_DIRECT\|Invalid argument' "$log.err"; then
            # tmpfs before Linux 6.6 has no O_DIRECT: the page cache is the storage there anyway.
            cache=writeback
            : > "$log"
            timeout 600 qemu-system-x86_64 -enable-kvm -M pc -cpu host -m 512 -smp 1 -nodefaults -no-user-config \
                -display none -no-reboot -serial "file:$log" -kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz" \
                -drive "file=$img,if=virtio,format=raw,cache=writeback" -append "$cmdline" 2>"$log.err" || true
        fi
    fi
    figures "qemu($cache)" || { ok=1; tail -n 20 "$log" "$log.err" >&2; }
    rm -f "$log.err"
done
exit $ok
