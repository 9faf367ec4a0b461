#!/bin/sh
# A small journal, the kind of guest software ActorVmm.Testing's sample checks: commits journal.records=N records
# (default 64) to /dev/vda, each with an fsync before the next, then drops the page cache and reads every record
# back. Lines start with "journal: "; the last is "journal: verified OK/N".
say() { echo "journal: $*"; }
[ -b /dev/vda ] || { say "no /dev/vda"; exit 1; }
N=64
for arg in $(cat /proc/cmdline); do
    case "$arg" in journal.records=*) N=${arg#journal.records=} ;; esac
done
case "$N" in ''|*[!0-9]*) say "bad journal.records"; exit 1 ;; esac
say "start"
: > /tmp/journal
i=1
while [ "$i" -le "$N" ]; do
    line="record $i $(head -c 16 /dev/urandom | md5sum | cut -c1-32)"
    echo "$line" > /tmp/record
    dd if=/tmp/record of=/dev/vda bs=4096 seek="$i" count=1 conv=sync,fsync oflag=direct 2>/dev/null \
        || { say "commit $i failed"; exit 1; }
    echo "$line" >> /tmp/journal
    i=$((i + 1))
done
say "committed $N"
sync
echo 3 > /proc/sys/vm/drop_caches
ok=0
i=1
while [ "$i" -le "$N" ]; do
    want=$(sed -n "${i}p" /tmp/journal)
    got=$(dd if=/dev/vda bs=4096 skip="$i" count=1 iflag=direct 2>/dev/null | head -n 1 | tr -d '\000')
    [ "$got" = "$want" ] && ok=$((ok + 1))
    i=$((i + 1))
done
say "verified $ok/$N"
exit 0
