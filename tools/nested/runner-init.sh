#!/bin/busybox sh
# PID 1 of the nested runner's VM: load KVM, mount the host over 9p, chroot in, run the command, power off.
# tun (TAP devices) and bridge are loaded for the network tests and benchmarks; network namespaces need no module.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in irqbypass ccp kvm kvm-amd virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         9pnet 9pnet_virtio netfs fscache 9p tun llc stp bridge; do
    insmod /mods/$m.ko 2>/dev/null || echo "runner-init: insmod $m failed"
done
arg() { sed -n "s/.*actorvmm\\.$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
repo=$(arg repo)
xfer=$(arg xfer)
fail() { echo "runner-init: $*"; poweroff -f; }
# Heartbeat: a line on the second serial port (ttyS1, a file on the host) every few seconds, so that run-in-kvm.sh's
# watchdog sees a frozen runner kernel within minutes. A serial port, not a file over 9p: 9p may stall with the guest.
# Shell builtins plus one busybox sleep per beat: cheap even when the one vCPU is busy with a test.
hb_every=$(arg hb)
if [ -n "$hb_every" ]; then
    (n=0; while :; do n=$((n + 1)); read -r up _ < /proc/uptime; echo "hb $n $up"; sleep "$hb_every"; done) \
        > /dev/ttyS1 2>/dev/null &
    hb_pid=$!
fi
# ACTORVMM_NESTED_TEST_FREEZE (tests the watchdog): "now" stops the heartbeat and hangs instead of running the command;
# "after:S" lets the command run S seconds, then stops the heartbeat and every process (SIGSTOP): a silent freeze.
freeze=$(arg test_freeze)
stop_heartbeat() { [ -z "${hb_pid:-}" ] || kill "$hb_pid"; }
case "$freeze" in
    now) stop_heartbeat; echo "runner-init: test freeze: heartbeat stopped, hanging"; while :; do sleep 3600; done ;;
    after:*) (sleep "${freeze#after:}"; stop_heartbeat
              echo "runner-init: test freeze: heartbeat and every process stopped"; kill -STOP -1) & ;;
esac
ip link set lo up 2>/dev/null
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
# The kernel's and modules' symbols, for run-in-kvm.sh's report on a frozen runner (Debian's System.map is a stub;
# the runner kernel runs without KASLR, so the addresses hold from one boot to the next).
syms=$(arg syms)
[ -z "$syms" ] || [ -s "/host$syms" ] || { cat /proc/kallsyms > "/host$syms.tmp" && mv "/host$syms.tmp" "/host$syms"; }
chroot /host /bin/sh "$xfer/cmd.sh"
echo $? > "/host$xfer/rc"
sync
poweroff -f
