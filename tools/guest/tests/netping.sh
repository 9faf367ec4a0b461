#!/bin/sh
# Pings the peer actorvmm.peer=IP actorvmm.count=N times (default 20, 0.2 s apart) once it answers (waiting up to
# actorvmm.wait=S tries, default 60), then prints one line and exits 0 when any reply came:
#   netping: ping peer=IP sent=N received=M loss=P% min_ms=A avg_ms=B max_ms=C
. /tests/netlib.sh
peer=$(netarg peer "")
count=$(netarg count 20)
wait_s=$(netarg wait 60)
need_ip netping "$peer"
need_num netping count "$count"
need_num netping wait "$wait_s"
wait_peer netping "$peer" "$wait_s" || exit 1
ping_summary netping "$peer" "$count"
