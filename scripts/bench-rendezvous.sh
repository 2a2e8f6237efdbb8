#!/usr/bin/env bash
# Benchmarks the rendezvous of `ranat serve`: rooms created and completed
# per second (a helper's Hello, a novice's join, one PAKE message and one
# last sealed message each, both connections closed), in one run, with
#   memory:         one host, its rooms in memory (the default);
#   redis-1-host:   one host, its rooms in a local redis-server;
#   redis-2-hosts:  two hosts sharing that redis-server, every helper on one
#                   and its novice on the other (the worst case: every
#                   novice is carried to its helper's host);
# and prints the ratios to the memory store. The load
# (examples/rendezvous_load.rs) keeps WORKERS rooms going at once, each
# from an address of its own in 127.73.0.0/16. Servers and Redis share one
# core (taskset -c 0), the load has the other (taskset -c 1): on a machine
# this small, two hosts measure what sharing costs, not what a second
# machine would add.
#
# Usage: scripts/bench-rendezvous.sh [-n RUNS] [-t SECONDS]
#   -n RUNS      runs per setup, alternating (default 3, at most 20)
#   -t SECONDS   load per run (default 3, at most 10)
#   RANAT_BIN    use this ranat instead of building target/release/ranat
#   WORKERS      rooms at once (default 32)
#
# Every packet goes to 127.0.0.0/8; every daemon started here is stopped on
# exit. Needs redis-server and taskset; a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

bench_runs_args 3 3 24 "$@"
WORKERS=${WORKERS:-32}

have redis-server || { echo "SKIPPED: redis-server not installed"; exit 0; }
command -v taskset >/dev/null || { echo "SKIPPED: taskset not installed"; exit 0; }
[ "$(nproc)" -ge 2 ] || echo "bench-rendezvous: only one core: servers and load share it" >&2

# Loopback addresses of our own, away from the tests' and the other benches'.
MEMORY_IP=127.0.75.1 A_IP=127.0.75.2 B_IP=127.0.75.3 REDIS_IP=127.0.75.4
REDIS_PORT=36379 RV_PORT=34800

bench_workdir bench-rendezvous

echo "== building (release)" >&2
bench_ranat_bin
cargo build --release --quiet --example rendezvous_load
LOAD=target/release/examples/rendezvous_load

taskset -c 0 "$(path_of redis-server)" --bind "$REDIS_IP" --port "$REDIS_PORT" --save '' \
    --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)

# serve NAME IP [ARGS...]: a `ranat serve` on IP, its rendezvous on RV_PORT.
serve() {
    local name=$1 ip=$2
    shift 2
    taskset -c 0 "$RANAT_BIN" serve --primary "$ip" --port 34790 --alt-port 34791 --threads 1 \
        --rendezvous-port "$RV_PORT" "$@" 2>"$WORK/$name.log" &
    PIDS+=($!)
}
serve memory "$MEMORY_IP"
serve a "$A_IP" --store "redis://$REDIS_IP:$REDIS_PORT" --store-prefix bench
serve b "$B_IP" --store "redis://$REDIS_IP:$REDIS_PORT" --store-prefix bench
for name in memory a b; do
    for _ in $(seq 100); do
        grep -q "rendezvous listening" "$WORK/$name.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "rendezvous listening" "$WORK/$name.log" || {
        echo "ranat serve ($name) did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1; }
done

# run HELPER_IP NOVICE_IP: "rooms/s failed"
run() {
    local line completed failed secs
    line=$(timeout $((SECONDS_PER_RUN + 30)) taskset -c 1 "$LOAD" "$1:$RV_PORT" "$2:$RV_PORT" \
        "$WORKERS" "$SECONDS_PER_RUN") || { echo "0 0"; return; }
    read -r _ completed _ failed _ secs <<<"$line"
    awk -v c="$completed" -v f="$failed" -v t="$secs" 'BEGIN { printf "%.0f %d\n", c / t, f }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { tr ' ' '\n' <<<"$1" | grep . | median; }

declare -A rate
failures=0
for ((i = 1; i <= RUNS; i++)); do
    for setup in memory redis-1-host redis-2-hosts; do
        case $setup in
            memory) helper=$MEMORY_IP novice=$MEMORY_IP ;;
            redis-1-host) helper=$A_IP novice=$A_IP ;;
            redis-2-hosts) helper=$A_IP novice=$B_IP ;;
        esac
        read -r r f <<<"$(run "$helper" "$novice")"
        echo "   $setup run $i: $r rooms/s ($f failed)" >&2
        rate[$setup]+="$r "
        failures=$((failures + f))
    done
done

m=$(med "${rate[memory]}")
echo
echo "rooms created and completed per second, $WORKERS at once, medians of $RUNS runs of ${SECONDS_PER_RUN} s:"
echo
echo "| setup | rooms/s | / memory |"
echo "|---|---|---|"
for setup in memory redis-1-host redis-2-hosts; do
    r=$(med "${rate[$setup]}")
    printf '| %s | %.0f | %s |\n' "$setup" "$r" \
        "$(awk -v r="$r" -v m="$m" 'BEGIN { if (m > 0) printf "%.2f", r / m; else print "n/a" }')"
done
echo
echo "($failures rooms failed in all)"
