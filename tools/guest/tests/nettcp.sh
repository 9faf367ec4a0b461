#!/bin/sh
# A TCP transfer checked end to end with busybox nc. actorvmm.role=server listens on actorvmm.port=P (default 5001)
# and md5sums what one connection brings; actorvmm.role=client writes actorvmm.mib=N MiB (default 8) of random data
# to a file, prints its md5, then sends it to actorvmm.peer=IP:P (retrying the connection for actorvmm.wait=S s,
# default 60). The host compares the two md5 lines:
#   nettcp: listening port=P
#   nettcp: received bytes=N md5=HASH
#   nettcp: sending bytes=N md5=HASH
#   nettcp: sent bytes=N md5=HASH seconds=S
. /tests/netlib.sh
role=$(netarg role "")
port=$(netarg port 5001)
need_num nettcp port "$port"
case "$role" in
    server)
        # nc ends when the connection's sender closes; its stdin must not end first (it would close the connection),
        # so it reads a FIFO this shell holds open.
        mkfifo /tmp/nettcp.hold
        exec 3<>/tmp/nettcp.hold
        echo "nettcp: listening port=$port"
        nc -l -p "$port" <&3 > /tmp/nettcp.recv || { echo "nettcp: FAIL nc -l -p $port"; exit 1; }
        exec 3>&-
        echo "nettcp: received bytes=$(wc -c < /tmp/nettcp.recv) md5=$(md5sum < /tmp/nettcp.recv | cut -d' ' -f1)"
        ;;
    client)
        peer=$(netarg peer "")
        mib=$(netarg mib 8)
        wait_s=$(netarg wait 60)
        need_ip nettcp "$peer"
        need_num nettcp mib "$mib"
        need_num nettcp wait "$wait_s"
        dd if=/dev/urandom of=/tmp/nettcp.send bs=1048576 count="$mib" 2>/dev/null
        echo "nettcp: sending bytes=$(wc -c < /tmp/nettcp.send) md5=$(md5sum < /tmp/nettcp.send | cut -d' ' -f1)"
        t0=$(uptime_s)
        tries=0
        # A refused connection sends nothing, so trying again is safe until the server listens.
        until nc "$peer" "$port" < /tmp/nettcp.send 2>/dev/null; do
            tries=$((tries + 1))
            [ "$tries" -ge $((wait_s * 5)) ] && { echo "nettcp: FAIL cannot connect to $peer:$port"; exit 1; }
            sleep 0.2
        done
        t1=$(uptime_s)
        echo "nettcp: sent bytes=$(wc -c < /tmp/nettcp.send) md5=$(md5sum < /tmp/nettcp.send | cut -d' ' -f1) seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
        ;;
    *)
        echo "nettcp: FAIL actorvmm.role='$role': server or client"
        exit 2
        ;;
esac
