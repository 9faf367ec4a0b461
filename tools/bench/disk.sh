#!/usr/bin/env bash
# Sequential virtio-blk throughput inside the guest, ActorVmm beside Debian's QEMU, same kernel, initramfs, image
# and guest script (tools/guest/tests/diskbench.sh: busybox dd, 1 MiB blocks, iflag/oflag=direct; per guest boot
# BENCH_PASSES read passes then BENCH_PASSES write passes of BENCH_MIB MiB each, every pass printed).
# Needs /dev/kvm; where there is none, run it in the nested runner:
#   tools/setup.sh && tools/guest/build-guest.sh artifacts/guest \
#     && flock /tmp/actorvmm-nested.lock tools/nested/run-in-kvm.sh -- tools/bench/disk.sh
# Environment: BENCH_IMG_DIR (default /tmp: inside the nested runner a RAM-backed tmpfs, so the figures measure the
# VMMs' data path, not the 9p share), BENCH_RUNS (default 2: boots per VMM, interleaved actorvmm, qemu, actorvmm...),
# BENCH_MIB (default 256), BENCH_PASSES (default 3), BENCH_IMAGE (filled, the default: random data, so no write
# allocates; sparse: a fresh sparse file, so every first write allocates host pages), BENCH_FSYNC=1 (write passes
# end with an fsync, i.e. a FLUSH), BENCH_VMMS (default "actorvmm qemu"), BENCH_OUT (a file that
# gets a copy of the report), BENCH_ACTORVMM and BENCH_ACTORVMM_B (below).
# The summary gives, per VMM, the median of all its passes (every run) for read and for write, and the ratio to QEMU;
# then, run by run, each VMM's median against QEMU's in the same run: runs won and the geometric mean of the ratios.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
guest=$repo/artifacts/guest
# The VMM under test: BENCH_ACTORVMM, else the Native AOT executable tools/setup.sh publishes (what tools/run.sh runs),
# else the JIT build. BENCH_ACTORVMM_B names a second build, run as VMM "actorvmm-b" for an A/B in the same run.
if [ -n "${BENCH_ACTORVMM:-}" ]; then
    vmm=$BENCH_ACTORVMM
elif [ -x "$repo/artifacts/actorvmm/actorvmm" ]; then
    vmm=$repo/artifacts/actorvmm/actorvmm
else
    vmm=$repo/src/Host/bin/Release/net10.0/actorvmm.dll
fi
imgdir=${BENCH_IMG_DIR:-/tmp}
runs=${BENCH_RUNS:-2}
mib=${BENCH_MIB:-256}
passes=${BENCH_PASSES:-3}
vmms=${BENCH_VMMS:-"actorvmm qemu"}
out=${BENCH_OUT:-/dev/null}
cmdline="console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable actorvmm.script=diskbench diskbench.mib=$mib diskbench.passes=$passes diskbench.fsync=${BENCH_FSYNC:-0}"

[ -e /dev/kvm ] || { echo "disk.sh: no /dev/kvm: run it through tools/nested/run-in-kvm.sh" >&2; exit 2; }
[ -f "$vmm" ] || { echo "disk.sh: $vmm missing: tools/setup.sh builds it" >&2; exit 2; }
[ -f "$guest/bzImage" ] || { echo "disk.sh: no default guest: tools/guest/build-guest.sh" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "disk.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }

mkdir -p "$imgdir"
img=$(mktemp "$imgdir/bench-disk.XXXXXX.img")
log=$(mktemp "$imgdir/bench-log.XXXXXX")
results=$(mktemp "$imgdir/bench-results.XXXXXX")
trap 'rm -f "$img" "$log" "$log.err" "$results"' EXIT
# Non-zero data (reads are not of a sparse hole), the size of one pass.
if [ "${BENCH_IMAGE:-filled}" = sparse ]; then
    truncate -s $((mib << 20)) "$img"
else
    head -c $((mib << 20)) /dev/urandom > "$img"
fi

say() { echo "$*"; echo "$*" >> "$out"; }

# QEMU: virtio-blk-pci with its defaults (modern + legacy, MSI-X, 1 queue per vCPU, indirect + event_idx), raw, no
# iothread, aio=threads. cache=none (O_DIRECT on the image) unless the image's file system has no O_DIRECT
# (tmpfs before Linux 6.6), then cache=writeback: the page cache is the storage there anyway, as for ActorVmm.
qemu_cache=none
qemu_opts() {
    echo "-enable-kvm -M pc -cpu host -m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot" \
         "-drive file=$img,if=virtio,format=raw,cache=$qemu_cache,aio=threads"
}
actorvmm_opts() {
    echo "run --memory 512M --cpus 1 --disk $img"
}

run_actorvmm() { # [executable or dll]
    local exe=${1:-$vmm} launcher=()
    case "$exe" in *.dll) launcher=(dotnet) ;; esac
    # shellcheck disable=SC2046
    timeout 600 "${launcher[@]}" "$exe" $(actorvmm_opts) --serial "file:$log" --cmdline "$cmdline" \
        --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" </dev/null >/dev/null 2>"$log.err" || true
}

run_qemu() {
    # shellcheck disable=SC2046
    if ! timeout 600 qemu-system-x86_64 $(qemu_opts) -serial "file:$log" -kernel "$guest/bzImage" \
        -initrd "$guest/initramfs.cpio.gz" -append "$cmdline" </dev/null >/dev/null 2>"$log.err"; then
        if [ "$qemu_cache" = none ] && grep -q -i 'direct\|Invalid argument' "$log.err"; then
            qemu_cache=writeback
            : > "$log"
            timeout 600 qemu-system-x86_64 $(qemu_opts) -serial "file:$log" -kernel "$guest/bzImage" \
                -initrd "$guest/initramfs.cpio.gz" -append "$cmdline" </dev/null >/dev/null 2>"$log.err" || true
        fi
    fi
}

say "disk.sh: $(date -u '+%Y-%m-%dT%H:%M:%SZ') runs=$runs passes=$passes mib=$mib (1 MiB blocks, O_DIRECT in the guest), image on $(df -T "$imgdir" | awk 'NR == 2 { print $2 }') $imgdir, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
say "disk.sh: kernel cmdline: $cmdline"

ok=0
for run in $(seq 1 "$runs"); do
    for v in $vmms; do
        : > "$log"
        case "$v" in
            actorvmm) run_actorvmm; label=actorvmm ;;
            actorvmm-b) run_actorvmm "${BENCH_ACTORVMM_B:?BENCH_ACTORVMM_B names the second build}"; label=actorvmm-b ;;
            qemu) run_qemu; label="qemu" ;;
            *) echo "disk.sh: unknown VMM $v" >&2; exit 2 ;;
        esac
        if [ "$run" = 1 ]; then
            case "$v" in
                actorvmm) say "disk.sh: actorvmm $vmm options: $(actorvmm_opts)" ;;
                actorvmm-b) say "disk.sh: actorvmm-b $BENCH_ACTORVMM_B options: $(actorvmm_opts)" ;;
                qemu) say "disk.sh: qemu options: $(qemu_opts)" ;;
            esac
            say "disk.sh: $v $(grep -a "diskbench: \(queue\|cpu\)" "$log" | tr -d '\r' | sed 's/^.*diskbench: //')"
        fi
        lines=$(grep -a 'diskbench: \(read\|write\|zero\) pass' "$log" | tr -d '\r' | sed 's/^.*diskbench: //' || true)
        if [ -z "$lines" ] || grep -a -q 'diskbench: .* failed' "$log"; then
            say "disk.sh: run $run $v FAILED"
            tail -n 20 "$log" "$log.err" >&2
            ok=1
            continue
        fi
        while IFS= read -r l; do
            say "run $run $(printf '%-8s' "$v") $l"
            # results: vmm kind MB/s run
            echo "$v $(echo "$l" | awk '{ print $1, $(NF - 2) }') $run" >> "$results"
        done <<< "$lines"
    done
done

median() { # vmm kind
    awk -v v="$1" -v k="$2" '$1 == v && $2 == k { print $3 }' "$results" | sort -g | awk -v empty=NaN -f "$repo/tools/bench/median.awk"
}
qr=$(median qemu read)
qw=$(median qemu write)
for v in $vmms; do
    r=$(median "$v" read)
    w=$(median "$v" write)
    n=$(awk -v v="$v" '$1 == v && $2 == "read"' "$results" | wc -l)
    ratio=$(awk -v r="$r" -v w="$w" -v qr="$qr" -v qw="$qw" 'BEGIN {
        if (qr + 0 > 0 && qw + 0 > 0) printf "read %.2fx, write %.2fx QEMU", r / qr, w / qw; else print "no QEMU figures" }')
    label=$v
    [ "$v" = qemu ] && label="qemu(cache=$qemu_cache)"
    z=$(median "$v" zero)
    say "summary: $(printf '%-22s' "$label") median read $r MB/s, median write $w MB/s over $n passes each ($ratio); guest-only /dev/zero fill $z MB/s"
done
# Paired: each run's median against QEMU's in the same run (tools/bench/paired.awk).
for v in $vmms; do
    [ "$v" = qemu ] && continue
    case " $vmms " in *" qemu "*) ;; *) break ;; esac
    for k in read write; do
        say "paired: $(printf '%-22s' "$v") $(printf '%-5s' "$k") $(awk -v v="$v" -v k="$k" -f "$repo/tools/bench/paired.awk" "$results")"
    done
done
say "disk.sh: load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
exit $ok
