#!/bin/busybox sh
# PID 1 of the nested runner's VM: load KVM, mount the host over 9p, chroot in, run the command, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in irqbypass ccp kvm kvm-amd virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         9pnet 9pnet_virtio netfs fscache 9p; do
    insmod /mods/$m.ko 2>/dev/null || echo "runner-init: insmod $m failed"
done
repo=$(sed -n 's/.*actorvmm\.repo=\([^ ]*\).*/\1/p' /proc/cmdline)
xfer=$(sed -n 's/.*actorvmm\.xfer=\([^ ]*\).*/\1/p' /proc/cmdline)
fail() { echo "runner-init: $*"; poweroff -f; }
[ -c /dev/kvm ] || fail "no /dev/kvm after loading kvm-amd (does QEMU offer SVM with -cpu max?)"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose host /host || fail "cannot mount the host root"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts devpts /host/dev/pts 2>/dev/null
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run 2>/dev/null
mount -t tmpfs tmpfs /host/root 2>/dev/null
# The project directory last, so a checkout under /tmp or /root is not hidden by the tmpfs mounts above.
mkdir -p "/host$repo" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,rw,cache=loose repo "/host$repo" || fail "cannot mount $repo"
chmod 666 /host/dev/kvm
chroot /host /bin/sh "$xfer/cmd.sh"
echo $? > "/host$xfer/rc"
sync
poweroff -f
