#!/bin/sh
# build-rootfs.sh's last step inside the new system ROOT (mmdebstrap --customize-hook): root file system, host name,
# password-less root, the check unit; checks that the initrd has the root disk's driver.
# Usage: customize.sh ROOT KVER
set -eu
root=$1
kver=$2
printf '%s\n' '# <file system> <mount point> <type> <options> <dump> <pass>' \
    '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
echo actorvmm > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tactorvmm\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
chroot "$root" passwd -d root >/dev/null
# First boot would otherwise ask for a locale, time zone and root password on the console.
ln -sf /dev/null "$root/etc/systemd/system/systemd-firstboot.service"
chroot "$root" systemctl enable actorvmm-check.service
# The kernel's postinst built the initrd with the overlay's initramfs-tools files (copied in before it was installed).
chroot "$root" sh -c "lsinitramfs /boot/initrd.img-$kver" | grep -q '/virtio_blk.ko' \
    || { echo "customize: the initrd has no virtio_blk" >&2; exit 1; }
rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
