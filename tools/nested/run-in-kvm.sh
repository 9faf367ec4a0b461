#!/usr/bin/env bash
# run-in-kvm.sh — run one command against a real /dev/kvm, even on a machine without one.
#
# Where /dev/kvm is usable the command runs directly. Elsewhere this boots Debian's stock kernel
# under QEMU TCG with `-cpu max` (emulated SVM with nested paging), loads kvm + kvm-amd inside it,
# mounts this machine's / read-only over virtio-9p (and the project directory read-write at the
# same path), chroots into it and runs the command there. The command's exit code is carried back.
#
# Usage: tools/nested/run-in-kvm.sh [--workdir DIR] [--timeout SECONDS] -- COMMAND [ARGS...]
# Environment: ACTORVMM_NESTED=force   always use the nested VM (for testing the runner itself)
#              ACTORVMM_NESTED=direct  use /dev/kvm whenever it is usable, even when no VT-x/AMD-V backs it
#              ACTORVMM_NESTED_MEM     L1 memory in MiB (default 4096)
#              ACTORVMM_NESTED_SMP     L1 vCPUs (default 1: see below)
#              ACTORVMM_NESTED_HEARTBEAT_TIMEOUT  end a nested VM that sent no heartbeat for this long (s, default 120;
#                                      0: never)
#              ACTORVMM_NESTED_TEST_FREEZE  test the watchdog: "now" or "after:SECONDS" (see runner-init.sh)
# Exit code: the command's; 124 when the nested VM ended without one (a panic, or --timeout); 125 when it froze (no
# heartbeat) and was ended.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
workdir=$PWD
timeout_s=3000
while [ $# -gt 0 ]; do
    case "$1" in
        --workdir) workdir=$(cd "$2" && pwd); shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "run-in-kvm: usage: run-in-kvm.sh [--workdir DIR] [--timeout S] -- COMMAND [ARGS...]" >&2; exit 2; }

# /dev/kvm is used directly only when hardware virtualization backs it (kvm_intel or kvm_amd). Some cloud sandboxes
# serve /dev/kvm from kvm_pvm (KVM without VT-x/AMD-V): small test guests run there, but a stock Linux kernel stalls
# in early boot under it (seen with ActorVmm and with QEMU alike), so there the nested runner is used instead.
# ACTORVMM_NESTED=direct uses any usable /dev/kvm as it is.
why="no usable /dev/kvm here"
if [ "${ACTORVMM_NESTED:-}" != "force" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    if [ "${ACTORVMM_NESTED:-}" = direct ] || [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
        cd "$workdir"
        exec "$@"
    fi
    backend=unknown
    [ -d /sys/module/kvm_pvm ] && backend=kvm_pvm
    why="/dev/kvm here is not backed by VT-x or AMD-V (module: $backend), and a stock kernel does not boot under it"
fi

kver=6.1.0-56-amd64
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver/kernel
for need in qemu-system-x86_64:/usr/bin/qemu-system-x86_64 busybox-static:/bin/busybox "linux-image-$kver-unsigned:$kernel"; do
    if [ ! -e "${need#*:}" ]; then
        echo "run-in-kvm: ${need#*:} is missing: install the Debian package ${need%%:*} (tools/setup.sh does)" >&2
        exit 3
    fi
done

cache=$repo/artifacts/nested
mkdir -p "$cache"
initrd=$cache/runner-initrd-$kver.cpio.gz
init_src=$here/runner-init.sh
if [ ! -s "$initrd" ] || [ "$init_src" -nt "$initrd" ] || [ "$0" -nt "$initrd" ]; then
    stage=$(mktemp -d)
    mkdir -p "$stage"/{bin,dev,proc,sys,host,mods,tmp}
    cp /bin/busybox "$stage/bin/busybox"
    for m in virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko \
             drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko drivers/virtio/virtio_pci_legacy_dev.ko \
             drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci.ko net/9p/9pnet.ko \
             net/9p/9pnet_virtio.ko fs/netfs/netfs.ko fs/fscache/fscache.ko fs/9p/9p.ko \
             drivers/net/tun.ko net/llc/llc.ko net/802/stp.ko net/bridge/bridge.ko; do
        cp "$moddir/$m" "$stage/mods/"
    done
    cp "$init_src" "$stage/init"
    chmod +x "$stage/init"
    (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1 > "$initrd.tmp")
    mv "$initrd.tmp" "$initrd"
    rm -rf "$stage"
fi

# The command, its working directory and the environment it needs travel in a script on the shared project dir.
xfer=$(mktemp -d "$repo/.nested.XXXXXX")
trap 'rm -rf "$xfer"' EXIT
{
    echo "#!/bin/sh"
    echo "export PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'"
    echo "export HOME=/tmp DOTNET_CLI_HOME=/tmp DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1"
    echo "export ACTORVMM_IN_NESTED=1 TERM=dumb"
    for v in $(compgen -e | grep -E '^(ACTORVMM_|DOTNET_ROOT|CI$)' | grep -v '^ACTORVMM_NESTED'); do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf 'cd %q || exit 126\n' "$workdir"
    printf '%q ' "$@"
    echo
} > "$xfer/cmd.sh"
chmod +x "$xfer/cmd.sh"

mem=${ACTORVMM_NESTED_MEM:-4096}
# One L1 vCPU by default. With two, the L1 kernel panicked now and then in exit-heavy runs ("corrupted stack end
# detected inside scheduler" on a thread that had run KVM_RUN, or a freeze with both CPUs spinning: QEMU TCG's
# emulated SVM, not diagnosed further); with one it has not so far, and the KVM test stage ran faster (2 min 49 s
# against about 4 min 40 s: TCG's two vCPU threads shared this machine's cores with QEMU's I/O thread). With one CPU
# the L1 kernel also keeps the TSC as its clocksource (a clock read ~90 ns instead of ~1-1.5 us on HPET).
smp=${ACTORVMM_NESTED_SMP:-1}
# A runner kernel that locks up (seen a few times in long, exit-heavy runs: a CPU spinning, or a panic on a corrupted
# kernel stack, under QEMU TCG's emulated SVM) panics within about a minute instead of hanging until the timeout:
# softlockup_panic, and an RCU stall of 60 s (far above anything a slow host causes) panics too; panic=-1 with
# -no-reboot ends QEMU, and the caller sees 124. loglevel=4 lets the lockup and stall reports reach the console.
# With more than one L1 vCPU the kernel falls back to HPET (a clock read is an emulated MMIO access, ~1-1.5 us);
# ACTORVMM_NESTED_CLOCKSOURCE=tsc forces the TSC there (clocksource=tsc tsc=reliable; it panicked the same way).
clockargs=
[ "${ACTORVMM_NESTED_CLOCKSOURCE:-}" = tsc ] && clockargs="clocksource=tsc tsc=reliable "
# Heartbeat watchdog: runner-init.sh writes a line to the second serial port (a file here) every $hb_every s. A runner
# kernel can freeze without panicking (seen: both softlockup and RCU-stall detection silent, QEMU at 100% CPU for the
# whole stage); no heartbeat for $hb_timeout s ends QEMU and this script returns 125. Beats arrived at most 17 s apart
# on a 2-core machine, in the whole KVM stage and in the two-vCPU boot test with two busy loops beside it in the
# runner (the test 5x slower), so 120 s leaves a wide margin for a slower, busier machine.
hb_every=15
hb_timeout=${ACTORVMM_NESTED_HEARTBEAT_TIMEOUT:-120}
freeze=${ACTORVMM_NESTED_TEST_FREEZE:-}
freeze=${freeze%% *}
tmp=$(mktemp -d /tmp/actorvmm-nested.XXXXXX)
# QEMU runs in the background while the watchdog polls: end it with this script, whatever ends the script.
qemu_kill() { local pid; pid=$(cat "$tmp/qemu.pid" 2>/dev/null) && kill "$@" "$pid" 2>/dev/null; }
trap '[ -e "$tmp/qrc" ] || qemu_kill; rm -rf "$xfer" "$tmp"' EXIT
trap 'exit 143' TERM INT HUP
: > "$tmp/heartbeat"
echo "run-in-kvm: $why; running inside nested KVM (QEMU TCG, -cpu max, $smp vCPU, ${mem}M): slower, but real KVM" >&2
set +e
# nokaslr: a frozen CPU's RIP can be looked up in the runner kernel's symbols (see freeze_report).
{ timeout --foreground "$timeout_s" qemu-system-x86_64 -M pc -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
    -nographic -no-reboot -nodefaults -serial stdio -serial "file:$tmp/heartbeat" \
    -monitor "unix:$tmp/monitor,server=on,wait=off" -pidfile "$tmp/qemu.pid" \
    -kernel "$kernel" -initrd "$initrd" \
    -append "${clockargs}console=ttyS0 reboot=k panic=-1 quiet loglevel=4 nokaslr softlockup_panic=1 rcupdate.rcu_cpu_stall_timeout=60 sysctl.kernel.panic_on_rcu_stall=1 actorvmm.repo=$repo actorvmm.xfer=$xfer actorvmm.hb=$hb_every actorvmm.syms=$cache/kallsyms-$kver${freeze:+ actorvmm.test_freeze=$freeze}" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap" </dev/null
  echo $? > "$tmp/qrc"; } \
    | sed -u -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' -e 's/\r$//' -e '/^SeaBIOS (version/d; /reboot: Power down$/d; s/^Booting from ROM\.*//; /^$/d' &
console_pid=$!

# Monitor commands, one per argument; their answers on stdout (perl: part of every Debian system).
monitor() {
    perl -MIO::Socket::UNIX -MIO::Select -e '
        my $s = IO::Socket::UNIX->new(Peer => shift) or exit 1;
        my $sel = IO::Select->new($s); my $out = "";
        for my $cmd (@ARGV) {
            $s->print("$cmd\n");
            while ($sel->can_read(0.5)) { my $buf; sysread($s, $buf, 65536) or last; $out .= $buf; }
        }
        $out =~ s/\r//g; $out =~ s/\e\[[0-9;]*[A-Za-z]//g; print $out;' "$tmp/monitor" "$@"
}
# Where the frozen vCPUs are: three samples of every vCPU's registers (the VM stopped for each, so RIP is exact), their
# RIPs looked up in the runner kernel's symbols (runner-init.sh saves /proc/kallsyms; no KASLR). A RIP that is no
# symbol's belongs to a nested guest or user space. The full dump is kept in artifacts/nested/.
freeze_report() {
    local dump syms=$cache/kallsyms-$kver rips=
    dump=$cache/freeze-$(date +%Y%m%d-%H%M%S).txt
    # With them each local APIC (timer armed? a vector stuck in IRR?): a lost timer interrupt would freeze the one vCPU
    # without a lockup report, since the kernel's lockup and stall detectors all run from the timer.
    for i in 1 2 3; do echo "== sample $i"; monitor stop "info registers -a" "info lapic" cont; sleep 1; done > "$dump" 2>&1
    while read -r n rip; do
        local sym= base= name=
        # The highest symbol at or below the address.
        [ -r "$syms" ] && read -r base name < <(awk -v a="$rip" \
            'length($1) == 16 && ($1 "") <= (a "") && ($1 "") > (b "") { b = $1; s = $3 ($4 == "" ? "" : " " $4) } END { print b, s }' "$syms")
        [ -z "$name" ] || [ $((16#$rip - 16#$base)) -ge 65536 ] || sym=$(printf '%s+0x%x' "$name" $((16#$rip - 16#$base)))
        rips+="$rip${sym:+ $sym} (${n}x); "
    done < <(grep -o 'RIP=[0-9a-f]*' "$dump" | cut -d= -f2 | sort | uniq -c | sort -rn | head -n 4)
    echo "run-in-kvm: frozen vCPUs' RIPs over 3 samples: ${rips:-none read; }registers in $dump" >&2
}

# The watchdog: poll the heartbeat file; also keep the longest gap between beats, reported at the end.
beats=0 last_size=0 last_beat=$SECONDS longest=0 frozen=0
while kill -0 "$console_pid" 2>/dev/null; do
    sleep 2
    size=$(stat -c %s "$tmp/heartbeat" 2>/dev/null || echo 0)
    if [ "$size" != "$last_size" ]; then
        [ $beats -eq 0 ] || [ $((SECONDS - last_beat)) -le "$longest" ] || longest=$((SECONDS - last_beat))
        beats=$((beats + 1)) last_size=$size last_beat=$SECONDS
    elif [ "$hb_timeout" -gt 0 ] && [ $((SECONDS - last_beat)) -ge "$hb_timeout" ] && [ ! -e "$tmp/qrc" ]; then
        frozen=1
        echo "run-in-kvm: no heartbeat from the nested VM for $((SECONDS - last_beat)) s: the runner froze; ending it (exit 125)" >&2
        freeze_report || true
        qemu_kill
        for _ in 1 2 3 4 5; do [ -e "$tmp/qrc" ] && break; sleep 2; done
        [ -e "$tmp/qrc" ] || qemu_kill -KILL
        break
    fi
done
wait "$console_pid"
qrc=$(cat "$tmp/qrc" 2>/dev/null || echo '?')
set -e
[ $beats -eq 0 ] || echo "run-in-kvm: $beats heartbeats, longest gap ${longest} s (watchdog at ${hb_timeout} s)" >&2
[ $frozen -eq 0 ] || exit 125
if [ -f "$xfer/rc" ]; then
    rc=$(cat "$xfer/rc")
    exit "$rc"
fi
echo "run-in-kvm: the nested VM ended (qemu exit $qrc) without the command's exit code: see the console output above" >&2
exit 124
