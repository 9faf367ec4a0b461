#!/usr/bin/env bash
# startup.sh — start-up time: process start to the first KVM_RUN, ActorVmm (the Native AOT executable that
# tools/setup.sh publishes) beside Debian's QEMU, against this machine's own /dev/kvm. The guest need not boot: each
# VMM is stopped with SIGINT STARTUP_WAIT seconds (default 3) after it started, so any usable /dev/kvm will do, even
# one where a stock kernel does not boot (tools/nested/run-in-kvm.sh explains kvm_pvm).
# Figures per run, interleaved: ActorVmm's own probe (ACTORVMM_STARTUP_REPORT=1: from the kernel's process start time),
# and for both VMMs the time stamp strace puts on the first KVM_RUN ioctl, from just before the exec (strace slows
# every syscall of both). Then the medians. Environment: STARTUP_RUNS (default 5), BENCH_ACTORVMM (another build).
# Needs strace (Debian package strace).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vmm=${BENCH_ACTORVMM:-$repo/artifacts/actorvmm/actorvmm}
guest=$repo/artifacts/guest
runs=${STARTUP_RUNS:-5}
wait_s=${STARTUP_WAIT:-3}
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "startup.sh: no usable /dev/kvm here (the nested runner works too: tools/nested/run-in-kvm.sh -- $0)" >&2; exit 2; }
[ -x "$vmm" ] || { echo "startup.sh: $vmm missing: tools/setup.sh publishes it" >&2; exit 2; }
[ -f "$guest/bzImage" ] || { echo "startup.sh: no default guest: tools/guest/build-guest.sh artifacts/guest" >&2; exit 2; }
command -v strace >/dev/null || { echo "startup.sh: strace missing (apt-get install strace)" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "startup.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 2; }
trace=$(mktemp)
results=$(mktemp)
trap 'rm -f "$trace" "$results"' EXIT

now_ns() { date +%s%N; }
# ms from START_NS to the first KVM_RUN in the strace -ttt log
first_run_ms() {
    awk -v s="$1" '/KVM_RUN/ { printf "%.1f\n", ($2 * 1e9 - s) / 1e6; exit }' "$trace"
}
strace_run() { # command...: its ioctls, time-stamped, into $trace
    timeout -s INT "$wait_s" strace -f -ttt -e trace=ioctl -e signal=none -o "$trace" "$@" </dev/null >/dev/null 2>&1 || true
}

# QEMU as the boot benchmark runs it; arch-capabilities off because some KVM backends (kvm_pvm) refuse that MSR.
qemu=(qemu-system-x86_64 -enable-kvm -M pc -cpu host,-arch-capabilities -m 256 -smp 1 -nodefaults -no-user-config
      -display none -no-reboot -serial none -kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz")
actorvmm=("$vmm" run --memory 256M --cpus 1 --serial none --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz")

echo "startup.sh: $(date -u '+%Y-%m-%dT%H:%M:%SZ') runs=$runs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), kvm module: $(ls -d /sys/module/kvm_intel /sys/module/kvm_amd /sys/module/kvm_pvm 2>/dev/null | xargs -n1 basename | tr '\n' ' ')"
printf '%-4s %22s %22s %22s\n' run "actorvmm probe ms" "actorvmm strace ms" "qemu strace ms"
for run in $(seq 1 "$runs"); do
    probe=$(ACTORVMM_STARTUP_REPORT=1 timeout -s INT "$wait_s" "${actorvmm[@]}" </dev/null 2>&1 >/dev/null \
        | awk '/startup: first KVM_RUN/ { print $5; exit }' || true)
    start=$(now_ns); strace_run "${actorvmm[@]}"; ours=$(first_run_ms "$start")
    start=$(now_ns); strace_run "${qemu[@]}"; peer=$(first_run_ms "$start")
    printf '%-4s %22s %22s %22s\n' "$run" "${probe:-none}" "${ours:-none}" "${peer:-none}"
    echo "${probe:-NaN} ${ours:-NaN} ${peer:-NaN}" >> "$results"
done
median() { awk -v c="$1" '$c != "NaN" { print $c }' "$results" | sort -g | awk -v empty=none -f "$repo/tools/bench/median.awk"; }
printf '%-4s %22s %22s %22s\n' med "$(median 1)" "$(median 2)" "$(median 3)"
