#!/bin/sh
# Keeps the guest up until the host stops it (Ctrl-Alt-Del through the i8042, or a forced stop).
echo "idle: up, waiting for Ctrl-Alt-Del"
while :; do
    sleep 3600
done
