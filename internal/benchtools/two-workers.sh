#!/bin/sh
# Runs two sesq workers side by side as one "worker" for the benchmark
# harness (make bench-rate): SIGTERM reaches both, the script waits for both.
# Usage: two-workers.sh PATH/TO/sesq
SESQ_HTTP_ADDR= "$1" run &
a=$!
SESQ_HTTP_ADDR= "$1" run &
b=$!
trap 'kill -TERM $a $b 2>/dev/null' TERM INT
wait $a
wait $b
