#!/bin/sh
# Helpers the net*.sh and iperf.sh guest scripts source (run on its own it does nothing). Their kernel command line
# arguments are actorvmm.NAME=VALUE; init has already configured eth0 from actorvmm.ip=ADDR/PREFIX.
# Every script ends by itself: a peer that never answers fails it after actorvmm.wait=S seconds (default 60).

# The value of actorvmm.$1= on the kernel command line, else $2.
netarg() {
    _v=$2
    for _a in $(cat /proc/cmdline); do
        case "$_a" in actorvmm.$1=*) _v=${_a#actorvmm.$1=} ;; esac
    done
    echo "$_v"
}

# TAG NAME VALUE: fail unless VALUE is a whole number.
need_num() {
    case "$3" in ''|*[!0-9]*) echo "$1: FAIL actorvmm.$2='$3' is not a number"; exit 2 ;; esac
}

# TAG VALUE: fail unless VALUE looks like an IPv4 address (actorvmm.peer=A.B.C.D).
need_ip() {
    case "$2" in ''|*[!0-9.]*) echo "$1: FAIL actorvmm.peer='$2' is not an IPv4 address"; exit 2 ;; esac
}

# Seconds since boot, 10 ms resolution.
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# TAG PEER WAIT_S: one ping a second until PEER answers; fails (1) after WAIT_S tries.
wait_peer() {
    _i=0
    while ! ping -c 1 -W 1 "$2" >/dev/null 2>&1; do
        _i=$((_i + 1))
        if [ "$_i" -ge "$3" ]; then
            echo "$1: FAIL peer $2 did not answer a ping in $3 tries"
            return 1
        fi
        sleep 0.2
    done
}

# TAG PEER COUNT: COUNT pings 0.2 s apart, then one line:
#   TAG: ping peer=IP sent=N received=M loss=P% min_ms=A avg_ms=B max_ms=C
ping_summary() {
    ping -c "$3" -i 0.2 -W 2 "$2" > /tmp/ping.out 2>&1
    awk -v tag="$1" -v peer="$2" '
        / packets transmitted/ { sent = $1; recv = $4; loss = $7 }
        /round-trip/ { split($4, r, "/"); min = r[1]; avg = r[2]; max = r[3] }
        END {
            if (sent == "") { print tag ": FAIL ping printed no statistics"; exit 1 }
            printf "%s: ping peer=%s sent=%s received=%s loss=%s min_ms=%s avg_ms=%s max_ms=%s\n",
                tag, peer, sent, recv, loss, (min == "" ? "-" : min), (avg == "" ? "-" : avg), (max == "" ? "-" : max)
            exit(recv > 0 ? 0 : 1)
        }' /tmp/ping.out
}

# TAG PEER PORT SECONDS REVERSE WAIT_S: one iperf3 TCP test against a server at PEER:PORT (retrying the connection
# until it is up, for WAIT_S s); REVERSE=1 makes the server send (-R). Its per-second lines stay in a file (console
# output would cost the VMM exits while it is measured); then two lines:
#   TAG: iperf start dir=send|recv           (printed before the test: the host may sample its CPU time there)
#   TAG: iperf dir=send|recv peer=IP seconds=T sender_bytes=N sender_mbps=X receiver_bytes=N receiver_mbps=Y retr=R
# dir is the guest's side: send = this guest sends (the iperf3 client's normal direction), recv = it receives.
iperf_client() {
    _dir=send
    _r=
    [ "$5" = 1 ] && { _dir=recv; _r=-R; }
    echo "$1: iperf start dir=$_dir"
    _t0=$(uptime_s)
    while ! iperf3 -c "$2" -p "$3" -t "$4" $_r -f m > /tmp/iperf.out 2>&1; do
        if ! grep -q 'unable to connect\|Connection refused\|server is busy' /tmp/iperf.out \
            || [ "$(awk -v a="$_t0" -v b="$(uptime_s)" -v w="$6" 'BEGIN { print (b - a > w) ? 1 : 0 }')" = 1 ]; then
            echo "$1: FAIL iperf3 -c $2 -p $3: $(tail -n 1 /tmp/iperf.out)"
            return 1
        fi
        sleep 0.2
    done
    iperf_lines "$1" "dir=$_dir peer=$2 seconds=$4" < /tmp/iperf.out
}

# TAG PREFIX < iperf3 -f m output: the summary line above (bytes from the Transfer column, whatever its unit).
iperf_lines() {
    awk -v tag="$1" -v prefix="$2" '
        function bytes(v, u) { return v * (u == "GBytes" ? 1073741824 : u == "MBytes" ? 1048576 : u == "KBytes" ? 1024 : 1) }
        / sender$| receiver$/ {
            for (i = 1; i <= NF; i++) {
                if ($i ~ /Bytes$/) b = bytes($(i - 1), $i)
                if ($i == "Mbits/sec") { m = $(i - 1); n = $(i + 1) }
            }
            if ($NF == "sender") { sb = b; sm = m; retr = (n ~ /^[0-9]+$/) ? n : "-" } else { rb = b; rm = m }
        }
        END {
            if (sm == "" && rm == "") { print tag ": FAIL no iperf3 summary"; exit 1 }
            printf "%s: iperf %s sender_bytes=%.0f sender_mbps=%s receiver_bytes=%.0f receiver_mbps=%s retr=%s\n",
                tag, prefix, sb, (sm == "" ? "-" : sm), rb, (rm == "" ? "-" : rm), (retr == "" ? "-" : retr)
        }'
}
