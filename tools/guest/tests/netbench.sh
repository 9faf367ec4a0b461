#!/bin/sh
# The guest side of `ActorVmm.Bench net`: once actorvmm.peer=IP answers (actorvmm.wait=S tries, default 60), pings it
# actorvmm.count=N times (default 20), then two iperf3 TCP tests of actorvmm.seconds=T (default 10) against an iperf3
# server there (actorvmm.port=P, default 5201): this guest sending, then receiving (-R). Lines (see netlib.sh):
#   netbench: ping peer=IP sent=N received=M loss=P% min_ms=A avg_ms=B max_ms=C
#   netbench: iperf start dir=send
#   netbench: iperf dir=send peer=IP seconds=T sender_bytes=N sender_mbps=X receiver_bytes=N receiver_mbps=Y retr=R
#   netbench: iperf start dir=recv
#   netbench: iperf dir=recv ...
#   netbench: done rc=N
. /tests/netlib.sh
peer=$(netarg peer "")
count=$(netarg count 20)
seconds=$(netarg seconds 10)
port=$(netarg port 5201)
wait_s=$(netarg wait 60)
need_ip netbench "$peer"
for v in count:$count seconds:$seconds port:$port wait:$wait_s; do need_num netbench "${v%%:*}" "${v#*:}"; done
rc=0
wait_peer netbench "$peer" "$wait_s" || { echo "netbench: done rc=1"; exit 1; }
ping_summary netbench "$peer" "$count" || rc=1
iperf_client netbench "$peer" "$port" "$seconds" 0 "$wait_s" || rc=1
iperf_client netbench "$peer" "$port" "$seconds" 1 "$wait_s" || rc=1
echo "netbench: done rc=$rc"
exit "$rc"
