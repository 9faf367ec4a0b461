#!/usr/bin/env bash
# net.sh — the network benchmark (`ActorVmm.Bench net`, bench/ActorVmm.Bench/NetBench.cs): iperf3 TCP both ways and
# ping RTT over a TAP device, ActorVmm (--net tap=NAME) beside Debian's QEMU (-netdev tap,vhost=off + virtio-net-pci),
# and VM to VM through ActorVmm's in-process switch (two VMs in one `actorvmm serve`) beside two QEMUs on a Linux
# bridge, rounds interleaved, with the VMM processes' CPU time per GB. Arguments go to the benchmark:
#   [--seconds N (10)] [--rounds N (3)] [--pings N (20)] [--memory MiB (256)] [--no-switch] [--no-bridge]
#   [--no-peer | --peer-only] [--actorvmm PATH] [--initrd FILE]
# Needs /dev/kvm and root (it makes TAP devices and a bridge); where there is none, in the nested runner:
#   tools/guest/build-guest.sh artifacts/guest && dotnet build bench/ActorVmm.Bench -c Release -nologo -v quiet \
#     && flock /tmp/actorvmm-nested.lock tools/nested/run-in-kvm.sh --timeout 3000 -- tools/bench/net.sh --rounds 3
# BENCH_OUT=FILE keeps a copy of the report.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dll=$repo/bench/ActorVmm.Bench/bin/Release/net10.0/ActorVmm.Bench.dll
[ -f "$dll" ] || { echo "net.sh: $dll missing: dotnet build bench/ActorVmm.Bench -c Release" >&2; exit 2; }
[ -f "$repo/artifacts/guest/initramfs.cpio.gz" ] || { echo "net.sh: no net guest image: tools/guest/build-guest.sh artifacts/guest" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "net.sh: needs root (TAP devices); the nested runner runs as root" >&2; exit 2; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "net.sh: no usable /dev/kvm: run it through tools/nested/run-in-kvm.sh" >&2; exit 2; }
for tool in ip iperf3 qemu-system-x86_64; do
    command -v "$tool" >/dev/null || { echo "net.sh: $tool missing: tools/setup.sh installs it (iproute2, iperf3, qemu-system-x86)" >&2; exit 2; }
done
if [ -n "${BENCH_OUT:-}" ]; then
    dotnet "$dll" net "$@" 2>&1 | tee "$BENCH_OUT"
    exit "${PIPESTATUS[0]}"
fi
exec dotnet "$dll" net "$@"
