#!/usr/bin/env bash
# Runs the in-guest virtio-pci fuzzer (tools/guest/tests/fuzz.sh) against Debian's QEMU, the reference for a
# correct device: one boot of the default guest per device with virtio-blk-pci (a raw image with a pattern in
# sector 0), virtio-serial-pci + virtconsole, virtio-rng-pci and virtio-net-pci on QEMU's user-mode network (slirp:
# it answers the fuzzer's ARP requests, so the receive queue gets frames; no TAP needed), all seeds in that boot. Prints the fuzzer's
# summary lines, each boot's wall time, and QEMU's resident memory (sampled every 250 ms: start, peak, end).
# Needs /dev/kvm; where there is none, run it in the nested runner (which does not pass the environment on: use env):
#   tools/guest/build-guest.sh artifacts/guest && \
#     flock /tmp/actorvmm-nested.lock tools/nested/run-in-kvm.sh --timeout 1500 -- env FUZZ_DEVS=net tools/guest/fuzz/against-qemu.sh
# Environment: FUZZ_DEVS (default "blk console rng net"), FUZZ_SEEDS (default "1 7 42"), FUZZ_MODE (default all; or
# regs, queues, flood), FUZZ_ITERS (default 40), FUZZ_SECONDS (flood, default 20), FUZZ_EXTRA (more kernel command
# line, e.g. "fuzz.health=5 fuzz.verbose=1"), FUZZ_MEM (default 256), FUZZ_LOG_DIR (the consoles go there, live).
# Exit status 0 when every summary line says ok.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
guest=$repo/artifacts/guest
devs=${FUZZ_DEVS:-"blk console rng net"}
seeds=${FUZZ_SEEDS:-"1 7 42"}
mode=${FUZZ_MODE:-all}
iters=${FUZZ_ITERS:-40}
seconds=${FUZZ_SECONDS:-20}
mem=${FUZZ_MEM:-256}

[ -e /dev/kvm ] || { echo "against-qemu: no /dev/kvm: run it through tools/nested/run-in-kvm.sh" >&2; exit 2; }
[ -f "$guest/bzImage" ] || { echo "against-qemu: no default guest: tools/guest/build-guest.sh" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "against-qemu: apt-get install qemu-system-x86" >&2; exit 2; }

work=$(mktemp -d /tmp/fuzz-qemu.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
logdir=${FUZZ_LOG_DIR:-$work}
mkdir -p "$logdir"
truncate -s 64M "$img"
printf 'ACTORVMM-FUZZ-PATTERN-%s' "$(date +%s)" | dd of="$img" conv=notrunc status=none

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

ok=0
for dev in $devs; do
    log=$logdir/qemu-console-$dev.log
    hvc=$work/hvc-$dev.log
    : > "$log"
    cmdline="console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd no_timer_check tsc=reliable"
    cmdline+=" actorvmm.script=fuzz fuzz.dev=$dev fuzz.seeds=$(echo "$seeds" | tr ' ' ',') fuzz.mode=$mode"
    # fuzz.noshort=1: QEMU 7.2's virtio-net aborts on a chain shorter than the 12-byte vnet header: a transmit
    # chain on a netdev without vnet headers (user; iov_copy: Assertion 'offset == 0') and any receive chain
    # (iov_from_buf_full: Assertion 'offset == 0'). Those stay out here; ActorVmm gets them
    cmdline+=" fuzz.iters=$iters fuzz.seconds=$seconds fuzz.noshort=1 ${FUZZ_EXTRA:-}"
    start=$(date +%s.%N)
    qemu-system-x86_64 -enable-kvm -M pc -cpu host -m "$mem" -smp 1 -nodefaults -no-user-config -display none \
        -no-reboot -serial "file:$log" -kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz" -append "$cmdline" \
        -drive "file=$img,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0 \
        -device virtio-serial-pci -chardev "file,id=vc0,path=$hvc" -device virtconsole,chardev=vc0 \
        -device virtio-rng-pci -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 </dev/null >"$work/qemu.out" 2>&1 &
    pid=$!
    rss0=0 peak=0 last=0
    deadline=$((SECONDS + 1200))
    while kill -0 "$pid" 2>/dev/null; do
        r=$(rss_kib "$pid")
        [ "$rss0" = 0 ] && grep -aq 'fuzz: devs=' "$log" && rss0=$r
        [ "${r:-0}" -gt "$peak" ] && peak=$r
        [ "${r:-0}" -gt 0 ] && last=$r
        if [ $SECONDS -gt $deadline ]; then
            echo "against-qemu: $dev: QEMU still running after 1200 s, killed"
            kill "$pid"
            ok=1
        fi
        sleep 0.25
    done
    qrc=0
    wait "$pid" || qrc=$?
    took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    lines=$(grep -a 'virtio-fuzz: \(ok\|FAIL\)' "$log" | tr -d '\r' || true)
    if [ -z "$lines" ]; then
        echo "against-qemu: $dev: no summary line; console tail:"
        tail -n 30 "$log" | tr -d '\r'
        ok=1
    else
        echo "$lines"
        grep -a 'virtio-fuzz: note' "$log" | tr -d '\r' | head -n 10 || true
        echo "$lines" | grep -q 'virtio-fuzz: FAIL' && ok=1
    fi
    grep -a 'fuzz: done' "$log" | tr -d '\r' || true
    # every seed must report: a QEMU that aborts mid-run leaves the last seeds without a line
    grep -aq 'fuzz: done rc=0' "$log" || { echo "against-qemu: $dev: the fuzz script did not finish with rc=0 (QEMU exit status $qrc)"; ok=1; }
    [ "$qrc" = 0 ] || tail -n 2 "$work/qemu.out" | sed 's/^/against-qemu: qemu (last): /'
    echo "against-qemu: $dev boot took ${took}s; QEMU RSS at script start ${rss0} KiB, peak ${peak} KiB, last ${last} KiB (growth $(( (peak - rss0) / 1024 )) MiB)"
    # QEMU's own complaints about the hostile input (first few), e.g. "virtio: zero sized buffers are not allowed"
    sed -n 's/^/against-qemu: qemu: /; 1,5p' "$work/qemu.out"
done
exit $ok
