#!/usr/bin/env bash
# setup.sh — install what ActorVmm needs on a fresh Debian 12 machine (idempotent), then build.
#   Debian packages: qemu-system-x86 (the nested-KVM runner and the QEMU peer in benchmarks), busybox-static and
#   linux-image-6.1.0-56-amd64-unsigned (the default guest and the runner's kernel), cpio (initramfs).
#   chromium (headless: the HTML trace report test renders the report in it). clang and lld (Native AOT links actorvmm).
#   gcc and libc6-dev (the guest's static /bin/virtio-fuzz). iperf3 (copied into the guest's initramfs, and the host
#   side of the network benchmark), iproute2 (TAP devices, network namespaces), tcpdump (the pcap capture tests read
#   their files back with it). acpica-tools (iasl: the ACPI table tests disassemble what ActorVmm builds).
#   mmdebstrap and e2fsprogs (tools/rootfs/build-rootfs.sh: a Debian root file system as an ext4 image, which the
#   distribution boot test builds on demand from the Debian mirror). linux-image-cloud-amd64 (Debian's cloud kernel:
#   no MP table parsing, so a KVM test checks it finds its CPUs through ACPI).
#   The .NET 10 SDK must already be on PATH (`dotnet`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kver=6.1.0-56-amd64
need=()
for pkg in qemu-system-x86 busybox-static linux-image-$kver-unsigned cpio gzip chromium clang lld gcc libc6-dev iperf3 tcpdump iproute2 acpica-tools mmdebstrap e2fsprogs linux-image-cloud-amd64; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 3; }
if [ "${1:-}" != "--no-build" ]; then
    echo "setup: building (Release)" >&2
    dotnet build "$repo/ActorVmm.sln" -c Release -nologo -v quiet -clp:ErrorsOnly
    # actorvmm itself, compiled ahead of time to one native executable (Native AOT): no JIT and no runtime to load at
    # start. Under the nested runner it reached the first KVM_RUN in ~2.1 s against ~4.0 s for a self-contained
    # composite ReadyToRun build, with ~32 MiB resident outside guest RAM against ~70 MiB (that build mapped a 60 MB
    # image). Akka is not trim-annotated: the csproj roots it and our assemblies whole (its trim warnings are expected).
    # Always from a clean slate: the output folder is emptied, so no file of an earlier publish survives.
    rm -rf "$repo/src/Host/obj/Release/net10.0/linux-x64" "$repo/src/Host/bin/Release/net10.0/linux-x64" \
        "$repo/artifacts/actorvmm"
    dotnet publish "$repo/src/Host/ActorVmm.Host.csproj" -c Release -r linux-x64 -p:PublishAot=true \
        -o "$repo/artifacts/actorvmm" -nologo -v quiet -clp:ErrorsOnly
fi
