#!/usr/bin/env bash
# watchdog-selftest.sh [HEARTBEAT_TIMEOUT] — tests run-in-kvm.sh's heartbeat watchdog: the nested VM runs a command,
# freezes on purpose 30 s after boot (ACTORVMM_NESTED_TEST_FREEZE=after:30: heartbeat and every process stopped), and
# run-in-kvm.sh must end it with exit code 125 and its one "no heartbeat" line. Prints the detection time: from the
# freeze line on the console to the exit. HEARTBEAT_TIMEOUT: ACTORVMM_NESTED_HEARTBEAT_TIMEOUT (default: the
# runner's default, 120 s). Exit 0 when the watchdog fired within HEARTBEAT_TIMEOUT + 20 s of the freeze.
# Take the nested runner's lock around it (flock /tmp/actorvmm-nested.lock) where other runs share the machine.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
limit=${1:-120}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
set +e
ACTORVMM_NESTED=force ACTORVMM_NESTED_HEARTBEAT_TIMEOUT=$limit ACTORVMM_NESTED_TEST_FREEZE=after:30 \
    "$here/run-in-kvm.sh" --timeout $((limit + 300)) -- sleep 100000 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done | tee "$log"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
froze=$(awk '/runner-init: test freeze:/ { print $1; exit }' "$log")
[ -n "$froze" ] || { echo "watchdog-selftest: FAIL: the nested VM never froze (exit $rc)"; exit 1; }
fired=$(awk '/run-in-kvm: no heartbeat from the nested VM/ { print $1; exit }' "$log")
[ -n "$fired" ] || { echo "watchdog-selftest: FAIL: no watchdog line (exit $rc)"; exit 1; }
detect=$(awk -v a="$froze" -v b="$fired" 'BEGIN { printf "%.1f", b - a }')
ended=$(awk -v a="$froze" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
echo "watchdog-selftest: exit $rc; freeze detected ${detect} s after it began, QEMU ended after ${ended} s" \
    "(watchdog at ${limit} s without a heartbeat; ${total} s in all)"
[ "$rc" -eq 125 ] && awk -v d="$detect" -v l="$limit" 'BEGIN { exit !(d <= l + 20) }'
