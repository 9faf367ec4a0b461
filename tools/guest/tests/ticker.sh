#!/bin/sh
# Prints "tick N" five times a second, ticker.count=N times (default 0: until the VM stops). The serve tests watch it:
# a paused VM's ticks stop advancing and go on after resume.
COUNT=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in ticker.count=*) COUNT=${arg#ticker.count=} ;; esac
done
case "$COUNT" in ''|*[!0-9]*) echo "ticker: bad ticker.count"; exit 1 ;; esac
i=0
while [ "$COUNT" -eq 0 ] || [ "$i" -lt "$COUNT" ]; do
    i=$((i + 1))
    echo "tick $i"
    usleep 200000
done
exit 0
