#!/usr/bin/env bash
# net-selftest.sh — checks the guest's network scripts without KVM or root: boots the net image
# (artifacts/guest/initramfs.cpio.gz) in QEMU TCG with user-mode networking (slirp; the host is 10.0.2.2 there)
# and runs, one boot each: netping against the host, nettcp client -> a host nc (md5 compared), nettcp server <- a
# host nc through a forwarded port (md5 compared), iperf client -> a host iperf3 server, and netbench (ping and iperf3
# both ways). Prints one PASS/FAIL line per check; exit 0 when all passed. A few minutes (TCG boots).
# Usage: tools/guest/net-selftest.sh [GUEST_DIR (default artifacts/guest)]
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
guest=${1:-$repo/artifacts/guest}
for f in "$guest/bzImage" "$guest/initramfs.cpio.gz"; do
    [ -f "$f" ] || { echo "net-selftest: $f missing: tools/guest/build-guest.sh artifacts/guest" >&2; exit 2; }
done
for tool in qemu-system-x86_64 iperf3 busybox; do
    command -v "$tool" >/dev/null || { echo "net-selftest: $tool missing (tools/setup.sh installs it)" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
# Ports above the usual ones, offset by this shell's PID so that two self-tests can run side by side.
base=$((20000 + ($$ % 2000) * 4))
failed=0
check() { # NAME CONDITION-RESULT(0/1) DETAIL
    if [ "$2" = 0 ]; then echo "net-selftest: PASS $1 $3"; else echo "net-selftest: FAIL $1 $3"; failed=1; fi
}
boot() { # LOG NETDEV-EXTRA CMDLINE-EXTRA
    timeout 300 qemu-system-x86_64 -M pc -accel tcg -m 256 -nographic -no-reboot -nodefaults -serial stdio \
        -kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz" \
        -append "console=ttyS0 reboot=k panic=-1 quiet actorvmm.ip=10.0.2.15/24 actorvmm.gw=10.0.2.2 actorvmm.wait=60 $3" \
        -netdev "user,id=n0$2" -device virtio-net-pci,netdev=n0,romfile= </dev/null > "$1" 2>&1
}
md5() { md5sum < "$1" | cut -d' ' -f1; }

boot "$work/ping.log" "" "actorvmm.script=netping actorvmm.peer=10.0.2.2 actorvmm.count=5"
line=$(grep -a '^netping: ping ' "$work/ping.log")
check netping "$([ -n "$line" ] && echo "$line" | grep -q 'received=[1-9]' && echo 0 || echo 1)" "${line:-$(tail -n 3 "$work/ping.log" | tr '\n' ' ')}"

# Guest -> host: a host nc that reads a FIFO held open (its stdin must not end first) writes what arrives.
mkfifo "$work/hold"
exec 3<>"$work/hold"
busybox nc -l -p $((base + 1)) <&3 > "$work/recv" & pids+=($!)
boot "$work/tcp-client.log" "" "actorvmm.script=nettcp actorvmm.role=client actorvmm.peer=10.0.2.2 actorvmm.port=$((base + 1))"
sent=$(grep -a '^nettcp: sent ' "$work/tcp-client.log" | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
sleep 1
check "nettcp guest->host" "$([ -n "$sent" ] && [ "$sent" = "$(md5 "$work/recv")" ] && echo 0 || echo 1)" \
    "guest md5=${sent:-none} host md5=$(md5 "$work/recv") bytes=$(wc -c < "$work/recv")"

# Host -> guest: slirp forwards host port base+2 to the guest's 5001. slirp accepts a host connection before the guest
# listens (and then drops it), so the host sends once, a second after the guest said it listens.
dd if=/dev/urandom of="$work/send" bs=1M count=8 2>/dev/null
(for _ in $(seq 300); do grep -aq 'nettcp: listening' "$work/tcp-server.log" 2>/dev/null && break; sleep 1; done
 sleep 1; busybox nc 127.0.0.1 $((base + 2)) < "$work/send") & pids+=($!)
boot "$work/tcp-server.log" ",hostfwd=tcp:127.0.0.1:$((base + 2))-:5001" "actorvmm.script=nettcp actorvmm.role=server"
got=$(grep -a '^nettcp: received ' "$work/tcp-server.log" | sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p')
check "nettcp host->guest" "$([ "$got" = "$(md5 "$work/send")" ] && echo 0 || echo 1)" "guest md5=${got:-none} host md5=$(md5 "$work/send")"

# iperf3 both ways against a host server (netbench: ping, then guest sending, then receiving).
iperf3 -s -p $((base + 3)) > "$work/iperf-host.log" 2>&1 & pids+=($!)
boot "$work/netbench.log" "" "actorvmm.script=netbench actorvmm.peer=10.0.2.2 actorvmm.port=$((base + 3)) actorvmm.seconds=2 actorvmm.count=3"
for dir in send recv; do
    line=$(grep -a "^netbench: iperf dir=$dir " "$work/netbench.log")
    check "netbench iperf $dir" "$(echo "$line" | grep -q 'receiver_bytes=[1-9]' && echo 0 || echo 1)" "${line:-$(tail -n 3 "$work/netbench.log" | tr '\n' ' ')}"
done
check "netbench done" "$(grep -aq '^netbench: done rc=0' "$work/netbench.log" && echo 0 || echo 1)" ""
exit $failed
