#!/usr/bin/env bash
# Builds a minimal Debian 12 (bookworm) root file system that ActorVmm boots with Debian's own kernel and initrd:
#   OUT.img     ext4 image of the root (/dev/vda): systemd, udev, dbus, kmod, e2fsprogs, iproute2, procps,
#               initramfs-tools and linux-image-$KVER-unsigned (its modules; its postinst builds the initrd)
#   OUT.initrd  Debian's initramfs-tools initrd for $KVER, copied out of the image: MODULES=list, the modules named by
#               tools/rootfs/overlay/etc/initramfs-tools/hooks/actorvmm-virtio (virtio_pci, virtio_blk, ext4, ...)
# The console: serial-getty on the console the kernel names (console=ttyS0 or hvc0) logs root in without a password
# (autologin; root has no password). actorvmm.check=1 on the kernel command line starts actorvmm-check.service, which
# prints the system state, the failed units and systemd-analyze's times to the console and powers the machine off.
# From Debian packages only (mmdebstrap, e2fsprogs), with the network (the Debian mirror); no loop mounts: mmdebstrap
# fills a directory and mkfs.ext4 -d copies it into the image. Needs root (mmdebstrap's root mode chroots).
# Usage: tools/rootfs/build-rootfs.sh OUT.img    (e.g. artifacts/rootfs/rootfs.img)
# Environment: ACTORVMM_GUEST_KVER (kernel ABI, default 6.1.0-56-amd64), ACTORVMM_ROOTFS_MIRROR (default
#              http://deb.debian.org), ACTORVMM_ROOTFS_FREE_MB (free space left in the image, default 512).
# Skips the work when both outputs are newer than this script, customize.sh and every file of the overlay.
set -euo pipefail

KVER=${ACTORVMM_GUEST_KVER:-6.1.0-56-amd64}
MIRROR=${ACTORVMM_ROOTFS_MIRROR:-http://deb.debian.org}
FREE_MB=${ACTORVMM_ROOTFS_FREE_MB:-512}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OVERLAY=$HERE/overlay

die() { echo "build-rootfs: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: build-rootfs.sh OUT.img"
case "$1" in
    *.img) ;;
    *) die "the output must end in .img (the initrd goes next to it as .initrd): $1" ;;
esac
mkdir -p "$(dirname "$1")"
IMG=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
INITRD=${IMG%.img}.initrd

command -v mmdebstrap >/dev/null || die "mmdebstrap missing: apt-get install mmdebstrap"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing: apt-get install e2fsprogs"
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap's root mode chroots into the new system)"

# (No process substitution: the nested runner's chroot, where the KVM test calls this, has no /dev/fd.)
INPUTS=("$HERE/build-rootfs.sh" "$HERE/customize.sh")
while IFS= read -r f; do
    [ -n "$f" ] && INPUTS+=("$f")
done <<EOF
$(find "$OVERLAY" -type f)
EOF
up_to_date() {
    local out input
    for out in "$IMG" "$INITRD"; do
        [ -s "$out" ] || return 1
        for input in "${INPUTS[@]}"; do
            [ "$input" -nt "$out" ] && return 1
        done
    done
    return 0
}
if up_to_date; then
    echo "build-rootfs: $IMG is up to date"
    exit 0
fi

start=$(date +%s)
STAGE=$(mktemp -d "$(dirname "$IMG")/.stage.XXXXXX")
# --one-file-system: should mmdebstrap die with /proc, /sys or /dev/pts still mounted in the chroot, they stay untouched.
trap 'rm -rf --one-file-system "$STAGE"' EXIT
ROOT=$STAGE/root

# Left out of every package: documentation, manuals, translations, and the kernel's drivers for hardware a VM has
# not (graphics, sound, wireless, media, InfiniBand, staging): 396 MB of modules come down to about 150.
EXCLUDE=("/usr/share/doc/*" "/usr/share/man/*" "/usr/share/info/*" "/usr/share/locale/*" "/usr/share/lintian/*"
    "/lib/modules/$KVER/kernel/sound/*" "/lib/modules/$KVER/kernel/drivers/gpu/*"
    "/lib/modules/$KVER/kernel/drivers/media/*" "/lib/modules/$KVER/kernel/drivers/net/wireless/*"
    "/lib/modules/$KVER/kernel/drivers/infiniband/*" "/lib/modules/$KVER/kernel/drivers/staging/*"
    "/lib/modules/$KVER/kernel/drivers/bluetooth/*" "/lib/modules/$KVER/kernel/net/wireless/*"
    "/lib/modules/$KVER/kernel/net/mac80211/*" "/lib/modules/$KVER/kernel/net/bluetooth/*"
    "/lib/modules/$KVER/kernel/drivers/iio/*" "/lib/modules/$KVER/kernel/drivers/isdn/*")
DPKGOPTS=()
for p in "${EXCLUDE[@]}"; do DPKGOPTS+=(--dpkgopt="path-exclude=$p"); done
DPKGOPTS+=(--dpkgopt="path-include=/usr/share/doc/*/copyright")

PACKAGES=systemd,systemd-sysv,udev,dbus,kmod,e2fsprogs,iproute2,procps,initramfs-tools,zstd,linux-image-$KVER-unsigned
mmdebstrap --mode=root --variant=apt --include="$PACKAGES" --aptopt='APT::Install-Recommends "false"' \
    "${DPKGOPTS[@]}" \
    --essential-hook="mkdir -p \"\$1/etc/initramfs-tools\" && cp -a --no-preserve=ownership '$OVERLAY/etc/initramfs-tools/.' \"\$1/etc/initramfs-tools/\"" \
    --customize-hook="cp -a --no-preserve=ownership '$OVERLAY/.' \"\$1/\"" \
    --customize-hook="$HERE/customize.sh \"\$1\" '$KVER'" \
    bookworm "$ROOT" \
    "deb $MIRROR/debian bookworm main" \
    "deb $MIRROR/debian bookworm-updates main" \
    "deb $MIRROR/debian-security bookworm-security main" \
    || die "mmdebstrap failed"

[ -s "$ROOT/boot/initrd.img-$KVER" ] || die "the image has no /boot/initrd.img-$KVER (initramfs-tools did not run?)"
cp "$ROOT/boot/initrd.img-$KVER" "$STAGE/initrd"

used_mb=$(du -sm --apparent-size "$ROOT" | cut -f1)
size_mb=$(( used_mb + used_mb / 5 + FREE_MB ))
truncate -s "${size_mb}M" "$STAGE/img"
mkfs.ext4 -q -F -L rootfs -d "$ROOT" "$STAGE/img" || die "mkfs.ext4 -d failed"
mv -f "$STAGE/initrd" "$INITRD"
mv -f "$STAGE/img" "$IMG"
echo "build-rootfs: wrote $IMG (${size_mb} MiB, $(du -sm "$IMG" | cut -f1) MiB used, ${used_mb} MiB of files)" \
    "and $INITRD ($(stat -c %s "$INITRD") bytes) in $(( $(date +%s) - start )) s"
