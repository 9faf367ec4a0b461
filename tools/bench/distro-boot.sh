#!/usr/bin/env bash
# Time to boot Debian 12 with systemd (tools/rootfs/build-rootfs.sh) to multi-user.target and power off, ActorVmm
# beside Debian's QEMU: same kernel, initrd, image (a fresh copy per boot), 1 vCPU, 1 GiB, command line with
# actorvmm.check=1 (the image's actorvmm-check.service prints systemd-analyze's times and powers off).
# Per boot: the guest's own figures (kernel, initrd, userspace, multi-user.target), the host's wall clock to the
# check's last line and to the VMM's exit, and how the VMM ended.
# Needs /dev/kvm and the image; where there is no /dev/kvm, run it in the nested runner:
#   sudo tools/rootfs/build-rootfs.sh artifacts/rootfs/rootfs.img \
#     && flock /tmp/actorvmm-nested.lock tools/nested/run-in-kvm.sh -- tools/bench/distro-boot.sh
# Environment: BENCH_RUNS (default 1: boots per VMM, interleaved), BENCH_VMMS (default "actorvmm qemu"),
# BENCH_IMG_DIR (default /tmp: inside the nested runner a RAM-backed tmpfs), BENCH_TIMEOUT (s per boot, default 900),
# BENCH_ACTORVMM (default: artifacts/actorvmm/actorvmm, else the JIT build).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kernel=/boot/vmlinuz-6.1.0-56-amd64
rootfs=$repo/artifacts/rootfs/rootfs.img
initrd=$repo/artifacts/rootfs/rootfs.initrd
if [ -n "${BENCH_ACTORVMM:-}" ]; then
    vmm=$BENCH_ACTORVMM
elif [ -x "$repo/artifacts/actorvmm/actorvmm" ]; then
    vmm=$repo/artifacts/actorvmm/actorvmm
else
    vmm=$repo/src/Host/bin/Release/net10.0/actorvmm.dll
fi
runs=${BENCH_RUNS:-1}
vmms=${BENCH_VMMS:-"actorvmm qemu"}
imgdir=${BENCH_IMG_DIR:-/tmp}
limit=${BENCH_TIMEOUT:-900}
cmdline="console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable root=/dev/vda actorvmm.check=1"

[ -e /dev/kvm ] || { echo "distro-boot.sh: no /dev/kvm: run it through tools/nested/run-in-kvm.sh" >&2; exit 2; }
[ -f "$rootfs" ] && [ -f "$initrd" ] || { echo "distro-boot.sh: no $rootfs: sudo tools/rootfs/build-rootfs.sh $rootfs" >&2; exit 2; }
[ -f "$vmm" ] || { echo "distro-boot.sh: $vmm missing: tools/setup.sh builds it" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "distro-boot.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }

mkdir -p "$imgdir"
img=$(mktemp "$imgdir/distro-boot.XXXXXX.img")
log=$(mktemp "$imgdir/distro-boot-log.XXXXXX")
trap 'rm -f "$img" "$log" "$log.err"' EXIT

start_vmm() { # VMM: starts it in the background, its pid in $pid
    case "$1" in
        actorvmm)
            local launcher=()
            case "$vmm" in *.dll) launcher=(dotnet) ;; esac
            "${launcher[@]}" "$vmm" run --cpus 1 --memory 1G --kernel "$kernel" --initrd "$initrd" --disk "$img" \
                --serial "file:$log" --cmdline "$cmdline" </dev/null >/dev/null 2>"$log.err" &
            ;;
        qemu)
            qemu-system-x86_64 -enable-kvm -M pc -cpu host -m 1024 -smp 1 -nodefaults -no-user-config -display none \
                -serial "file:$log" -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
                -drive "file=$img,if=virtio,format=raw" </dev/null >/dev/null 2>"$log.err" &
            ;;
        *) echo "distro-boot.sh: unknown VMM $1" >&2; exit 2 ;;
    esac
    pid=$!
}

echo "distro-boot.sh: $(date -u '+%Y-%m-%dT%H:%M:%SZ') runs=$runs, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; $vmm"
for run in $(seq 1 "$runs"); do
    for v in $vmms; do
        cp --sparse=always "$rootfs" "$img"
        : > "$log"
        t0=$(date +%s.%N)
        start_vmm "$v"
        checked=""
        ended="timeout"
        while :; do
            now=$(date +%s.%N)
            if [ -z "$checked" ] && grep -a -q 'actorvmm-check: done' "$log"; then
                checked=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
            fi
            if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid" && ended="exit 0" || ended="exit $?"
                break
            fi
            # Without ACPI power-off a VMM never sees the guest's halt: give it 60 s after the check, then end it.
            if awk -v a="$t0" -v b="$now" -v l="$limit" 'BEGIN { exit !(b - a > l) }' \
                || { [ -n "$checked" ] && awk -v a="$t0" -v b="$now" -v c="$checked" 'BEGIN { exit !(b - a > c + 60) }'; }; then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                ended="killed (no power-off seen)"
                break
            fi
            sleep 0.2
        done
        total=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        guest=$(grep -a 'actorvmm-check: \(state\|failed\|Startup\|.*target reached\)' "$log" | tr -d '\r' | sed 's/^.*actorvmm-check: //' | paste -sd ';' -)
        echo "run $run $(printf '%-8s' "$v") check after ${checked:-never} s, ended after $total s ($ended); guest: ${guest:-nothing}"
        [ -n "$checked" ] || { tail -n 30 "$log" "$log.err" >&2; }
    done
done
