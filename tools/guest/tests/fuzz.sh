#!/bin/sh
# The hostile virtio-pci fuzzer (/bin/virtio-fuzz, tools/guest/fuzz/virtio-fuzz.c) against each device named on the
# kernel command line, once per seed. Options (kernel command line, all optional):
#   fuzz.dev=blk,console,rng,net   devices, in order (or PCI addresses); default blk
#   fuzz.seeds=1,7,42          seeds (fuzz.seed=N for one); default 1
#   fuzz.mode=all              regs | queues | all | flood
#   fuzz.iters=40 fuzz.health=10 fuzz.wait=20   iterations, a health check every N, ms to wait after each kick
#   fuzz.seconds=20 fuzz.reqkib=K fuzz.depth=N  flood: duration, request size cap, requests in flight
#   fuzz.noshort=1             net: no chain shorter than the 12-byte vnet header, either queue (QEMU 7.2 aborts on one)
#   fuzz.verbose=1
# Each run prints one "virtio-fuzz: ok|FAIL ..." line; this script ends with "fuzz: done rc=N" (0: all ok).
devs=blk seeds=1 mode=all iters=40 health=10 wait=20 seconds=20 reqkib="" depth="" verbose="" noshort=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        fuzz.dev=*) devs=${arg#fuzz.dev=} ;;
        fuzz.seed=*|fuzz.seeds=*) seeds=${arg#*=} ;;
        fuzz.mode=*) mode=${arg#fuzz.mode=} ;;
        fuzz.iters=*) iters=${arg#fuzz.iters=} ;;
        fuzz.health=*) health=${arg#fuzz.health=} ;;
        fuzz.wait=*) wait=${arg#fuzz.wait=} ;;
        fuzz.seconds=*) seconds=${arg#fuzz.seconds=} ;;
        fuzz.reqkib=*) reqkib=${arg#fuzz.reqkib=} ;;
        fuzz.depth=*) depth=${arg#fuzz.depth=} ;;
        fuzz.verbose=1) verbose=--verbose ;;
        fuzz.noshort=1) noshort=1 ;;
    esac
done
echo "fuzz: devs=$devs seeds=$seeds mode=$mode iters=$iters health=$health seconds=$seconds"
rc=0
for dev in $(echo "$devs" | tr ',' ' '); do
    for seed in $(echo "$seeds" | tr ',' ' '); do
        set -- --dev "$dev" --seed "$seed" --mode "$mode" --iters "$iters" --health-every "$health" \
            --wait-ms "$wait" --seconds "$seconds"
        [ -n "$reqkib" ] && set -- "$@" --req-kib "$reqkib"
        [ -n "$depth" ] && set -- "$@" --depth "$depth"
        [ -n "$verbose" ] && set -- "$@" "$verbose"
        [ -n "$noshort" ] && set -- "$@" --no-short 1
        /bin/virtio-fuzz "$@" || rc=1
    done
done
dmesg | grep -iE 'virtio|nobody cared|irq [0-9]+: ' | tail -n 20 | sed 's/^/fuzz: dmesg /'
echo "fuzz: done rc=$rc"
exit $rc
