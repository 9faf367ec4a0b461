#!/usr/bin/env bash
# Builds the ActorVmm test guest from Debian packages only (no network):
#   OUTDIR/bzImage            copy of /boot/vmlinuz-$KVER      (linux-image-$KVER-unsigned)
#   OUTDIR/initramfs.cpio.gz  busybox-static + virtio, pvpanic and ACPI button modules + tools/guest/init + tools/guest/tests/*.sh
#                             + /bin/virtio-fuzz (tools/guest/fuzz/virtio-fuzz.c, built static with Debian's gcc)
#                             + Debian's /usr/bin/iperf3 with the shared libraries and dynamic loader ldd names
#                             (3.4 MB more gzipped, 8 MB more to unpack at boot: zcat 30 -> 78 ms on this machine)
# Usage: tools/guest/build-guest.sh [OUTDIR]   (default: artifacts/guest in the repository)
# Skips the work when the outputs are newer than every input.
set -euo pipefail

KVER=${ACTORVMM_GUEST_KVER:-6.1.0-56-amd64}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/artifacts/guest}
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
BUSYBOX=/bin/busybox
# The drivers the guest loads; their dependencies are added in front of them (modinfo -F depends).
# pvpanic_mmio binds the ACPI device QEMU0001 (pvpanic); button and evdev let busybox acpid see the ACPI power button.
WANTED=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_console virtio-rng virtio_net
    pvpanic_mmio button evdev)

die() { echo "build-guest: $*" >&2; exit 1; }

[ -r "$KERNEL" ] || die "$KERNEL missing: apt-get install linux-image-$KVER-unsigned"
[ -d "$MODDIR" ] || die "$MODDIR missing: apt-get install linux-image-$KVER-unsigned"
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list-full >/dev/null 2>&1 || die "$BUSYBOX missing: apt-get install busybox-static"
file -b "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || ! command -v file >/dev/null || die "$BUSYBOX is not static: apt-get install busybox-static"
command -v cpio >/dev/null || die "cpio missing: apt-get install cpio"
command -v modinfo >/dev/null || die "modinfo missing: apt-get install kmod"
command -v gcc >/dev/null || die "gcc missing (it builds /bin/virtio-fuzz): apt-get install gcc libc6-dev"
IPERF3=/usr/bin/iperf3
[ -x "$IPERF3" ] || die "$IPERF3 missing (the network test scripts run it): apt-get install iperf3"
command -v ldd >/dev/null || die "ldd missing (it lists iperf3's libraries): apt-get install libc-bin"
# iperf3's shared libraries and the dynamic loader, as ldd resolves them here (copied to the same paths in the guest).
IPERF3_LIBS=()
while read -r lib; do
    [ -n "$lib" ] && IPERF3_LIBS+=("$lib")
done < <(ldd "$IPERF3" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ ${#IPERF3_LIBS[@]} -ge 2 ] || die "ldd $IPERF3 listed no libraries (is it a dynamic x86-64 binary?)"
FUZZ_SRC=$HERE/fuzz/virtio-fuzz.c

# Resolve the module load order: dependencies first, each module once.
ORDER=()
declare -A SEEN=()
add_module() {
    local name=$1 dep
    [ -n "${SEEN[$name]:-}" ] && return 0
    SEEN[$name]=1
    local deps
    deps=$(modinfo -k "$KVER" -F depends "$name") || die "module $name not found in $MODDIR"
    for dep in ${deps//,/ }; do
        add_module "$dep"
    done
    ORDER+=("$name")
}
for m in "${WANTED[@]}"; do
    add_module "$m"
done

MODFILES=()
for m in "${ORDER[@]}"; do
    f=$(modinfo -k "$KVER" -n "$m") || die "module $m has no file"
    case "$f" in
        *.ko) ;;
        *) die "module file $f is compressed; this recipe expects plain .ko files" ;;
    esac
    MODFILES+=("$f")
done

INPUTS=("$KERNEL" "$BUSYBOX" "$HERE/build-guest.sh" "$HERE/init" "$HERE/power-button" "$FUZZ_SRC" "${MODFILES[@]}" "$IPERF3" "${IPERF3_LIBS[@]}")
while IFS= read -r -d '' t; do INPUTS+=("$t"); done < <(find "$HERE/tests" -type f -name '*.sh' -print0)

up_to_date() {
    local out input
    for out in "$OUT/bzImage" "$OUT/initramfs.cpio.gz"; do
        [ -f "$out" ] || return 1
        for input in "${INPUTS[@]}" "$HERE/tests"; do
            [ "$input" -nt "$out" ] && return 1
        done
    done
    return 0
}

if up_to_date; then
    echo "build-guest: $OUT is up to date"
    exit 0
fi

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lib/modules,tests}

cp "$BUSYBOX" "$ROOT/bin/busybox"
# Only the shell link is made here (forks are slow); /init runs `busybox --install -s` for the other applets.
ln -s busybox "$ROOT/bin/sh"

: > "$ROOT/lib/modules/load-order"
for i in "${!ORDER[@]}"; do
    cp "${MODFILES[$i]}" "$ROOT/lib/modules/${ORDER[$i]}.ko"
    echo "${ORDER[$i]}" >> "$ROOT/lib/modules/load-order"
done

install -m 0755 "$HERE/init" "$ROOT/init"
# busybox acpid's handler for the power button (KEY_POWER maps to PWRF; it runs /etc/acpi/PWRF/00000080).
install -D -m 0755 "$HERE/power-button" "$ROOT/etc/acpi/PWRF/00000080"
# The in-guest virtio-pci fuzzer: static, so the busybox initramfs needs no libc.
gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$ROOT/bin/virtio-fuzz" "$FUZZ_SRC" \
    || die "cannot build $FUZZ_SRC (static: apt-get install gcc libc6-dev)"
for t in "$HERE"/tests/*.sh; do
    [ -e "$t" ] && install -m 0755 "$t" "$ROOT/tests/$(basename "$t")"
done

# A console node lets the kernel give init a console before devtmpfs is mounted (needs root; init copes without).
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

pack() { # DIR: a gzipped newc archive of DIR on stdout
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n
}
# iperf3 runs dynamically linked: its libraries and the loader at the paths ldd gave (symlinks resolved, so the
# loader's /lib64 path and the library directory hold plain files).
install -m 0755 "$IPERF3" "$ROOT/usr/bin/iperf3"
for lib in "${IPERF3_LIBS[@]}"; do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
done
pack "$ROOT" > "$STAGE/initramfs.cpio.gz"
cp "$KERNEL" "$STAGE/bzImage"
mv -f "$STAGE/bzImage" "$OUT/bzImage"
mv -f "$STAGE/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
rm -f "$OUT/initramfs-net.cpio.gz"
echo "build-guest: wrote $OUT/bzImage and $OUT/initramfs.cpio.gz ($(stat -c %s "$OUT/initramfs.cpio.gz") bytes); modules: ${ORDER[*]}"
