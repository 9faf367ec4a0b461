#!/bin/sh
# The snapshot tests' guest: counts up five times a second and prints "count N disk OK" once record N, written to
# block N%64+1 of /dev/vda with direct I/O, reads back the same (BAD otherwise). A background reader keeps more
# virtio-blk requests in flight, so a snapshot usually catches some. After a restore the count goes on from where
# the snapshot left it; a cold boot starts at 1.
[ -b /dev/vda ] || { echo "snapcount: no /dev/vda"; exit 1; }
( while :; do dd if=/dev/vda of=/dev/null bs=65536 count=8 iflag=direct 2>/dev/null; done ) &
i=0
while :; do
    i=$((i + 1))
    block=$((i % 64 + 1))
    echo "count $i" > /tmp/record
    dd if=/tmp/record of=/dev/vda bs=4096 seek="$block" count=1 conv=sync oflag=direct 2>/dev/null
    got=$(dd if=/dev/vda bs=4096 skip="$block" count=1 iflag=direct 2>/dev/null | head -n 1 | tr -d '\000')
    if [ "$got" = "count $i" ]; then result=OK; else result=BAD; fi
    echo "count $i disk $result"
    usleep 200000
done
