# paired.awk — one VMM against QEMU run by run (disk.sh). Input lines: VMM KIND MB/s RUN. For -v v=VMM -v k=KIND,
# takes the median of each run's passes for VMM and for qemu, and prints how many runs VMM matched or beat QEMU,
# the geometric mean of the per-run ratios, and the ratios. Runs are interleaved, so each pair ran minutes apart
# and a drift in the host's speed between runs cancels out of the ratio.
$2 == k && ($1 == v || $1 == "qemu") {
    n = ++count[$1, $4]
    value[$1, $4, n] = $3
    if ($4 + 0 > last) last = $4 + 0
}

function median(vmm, run,    n, i, j, t, a) {
    n = count[vmm, run]
    if (n == 0) return -1
    for (i = 1; i <= n; i++) a[i] = value[vmm, run, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

END {
    pairs = 0; wins = 0; logs = 0; list = ""
    for (run = 1; run <= last; run++) {
        ours = median(v, run); theirs = median("qemu", run)
        if (ours <= 0 || theirs <= 0) continue
        pairs++
        if (ours >= theirs) wins++
        logs += log(ours / theirs)
        list = list sprintf(" %.2f", ours / theirs)
    }
    if (pairs == 0) print "no paired runs"
    else printf "at or above QEMU in %d of %d runs, geometric mean of per-run ratios %.3f (ratios:%s)\n", wins, pairs, exp(logs / pairs), list
}
