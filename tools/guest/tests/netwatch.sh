#!/bin/sh
# Pings actorvmm.peer=IP actorvmm.count=N times (default 300), 0.2 s apart, each reply printed as it comes (the host
# watches them live, e.g. while it partitions the network), once the peer has answered one ping (waiting up to
# actorvmm.wait=S tries, default 60). Ends with the netping summary line:
#   netwatch: reply seq=N
#   netwatch: ping peer=IP sent=N received=M loss=P% min_ms=A avg_ms=B max_ms=C
. /tests/netlib.sh
peer=$(netarg peer "")
count=$(netarg count 300)
wait_s=$(netarg wait 60)
need_ip netwatch "$peer"
need_num netwatch count "$count"
need_num netwatch wait "$wait_s"
wait_peer netwatch "$peer" "$wait_s" || exit 1
echo "netwatch: peer answers"
ping -c "$count" -i 0.2 -W 1 "$peer" 2>&1 | tee /tmp/ping.out | sed -n 's/.*seq=\([0-9]*\).*/netwatch: reply seq=\1/p'
awk -v peer="$peer" '
    / packets transmitted/ { sent = $1; recv = $4; loss = $7 }
    /round-trip/ { split($4, r, "/"); avg = r[2] }
    END { printf "netwatch: ping peer=%s sent=%s received=%s loss=%s avg_ms=%s\n", peer, sent, recv, loss, (avg == "" ? "-" : avg) }' /tmp/ping.out
