#!/usr/bin/env bash
# setup.sh — install what ActorVmm needs on a fresh Debian 12 machine (idempotent), then build.
#   Debian packages: qemu-system-x86 (the nested-KVM runner and the QEMU peer in benchmarks), busybox-static and
#   linux-image-6.1.0-56-amd64-unsigned (the default guest and the runner's kernel), cpio (initramfs).
#   chromium (headless: the HTML trace report test renders the report in it).
#   The .NET 10 SDK must already be on PATH (`dotnet`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kver=6.1.0-56-amd64
need=()
for pkg in qemu-system-x86 busybox-static linux-image-$kver-unsigned cpio gzip chromium; do
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
    # actorvmm itself, precompiled: self-contained with one composite ReadyToRun image of the app and the .NET runtime
    # libraries. One version bubble, so the generic instantiations across assemblies (List<OurStruct>, Dictionary<string,
    # int> in Akka, async state machines...) are precompiled too: a framework-dependent ReadyToRun build still
    # JIT-compiled ~450 methods before the first KVM_RUN (~2.5 s of JIT under nested KVM), this one ~150.
    # Always from a clean slate: the RID-specific intermediate folder holds the ReadyToRun images of the last
    # publish, and a stale one (another R2R mode, e.g. composite) would be copied as is and abort the runtime at
    # start. The output folder is emptied too, so no file of an earlier publish survives next to the new ones.
    rm -rf "$repo/src/Host/obj/Release/net10.0/linux-x64" "$repo/src/Host/bin/Release/net10.0/linux-x64" \
        "$repo/artifacts/actorvmm"
    dotnet publish "$repo/src/Host/ActorVmm.Host.csproj" -c Release -r linux-x64 --self-contained true \
        -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -o "$repo/artifacts/actorvmm" \
        -nologo -v quiet -clp:ErrorsOnly
fi
