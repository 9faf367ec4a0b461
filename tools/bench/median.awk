# median.awk — the median of numbers read one per line, already sorted (sort -g); prints EMPTY (-v empty=...) when
# there are none. Shared by the bench scripts.
{ a[NR] = $1 }
END {
    if (NR == 0) print empty
    else if (NR % 2) print a[(NR + 1) / 2]
    else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
}
