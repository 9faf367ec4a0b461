#!/bin/sh
# iperf3 TCP, one side. actorvmm.role=server: `iperf3 -s -1` on actorvmm.port=P (default 5201), actorvmm.tests=N times
# (default 1), each printing its summary (as seen by the server; dir is the guest's side):
#   iperf: iperf dir=recv|send peer=- seconds=- sender_bytes=... (see netlib.sh)
# actorvmm.role=client: one test against actorvmm.peer=IP for actorvmm.seconds=T (default 10); actorvmm.reverse=1
# makes the server send:
#   iperf: iperf start dir=send|recv
#   iperf: iperf dir=send|recv peer=IP seconds=T sender_bytes=N sender_mbps=X receiver_bytes=N receiver_mbps=Y retr=R
. /tests/netlib.sh
role=$(netarg role "")
port=$(netarg port 5201)
need_num iperf port "$port"
case "$role" in
    server)
        tests=$(netarg tests 1)
        need_num iperf tests "$tests"
        i=0
        while [ "$i" -lt "$tests" ]; do
            i=$((i + 1))
            echo "iperf: server listening port=$port test=$i/$tests"
            iperf3 -s -1 -p "$port" -f m > /tmp/iperf.out 2>&1 || { echo "iperf: FAIL iperf3 -s: $(tail -n 1 /tmp/iperf.out)"; exit 1; }
            # The server prints only its own side's summary: a sender line when the client asked for -R.
            if grep -q ' sender$' /tmp/iperf.out; then dir=send; else dir=recv; fi
            iperf_lines iperf "dir=$dir peer=- seconds=-" < /tmp/iperf.out
        done
        ;;
    client)
        peer=$(netarg peer "")
        seconds=$(netarg seconds 10)
        reverse=$(netarg reverse 0)
        wait_s=$(netarg wait 60)
        need_ip iperf "$peer"
        need_num iperf seconds "$seconds"
        need_num iperf wait "$wait_s"
        iperf_client iperf "$peer" "$port" "$seconds" "$reverse" "$wait_s"
        ;;
    *)
        echo "iperf: FAIL actorvmm.role='$role': server or client"
        exit 2
        ;;
esac
