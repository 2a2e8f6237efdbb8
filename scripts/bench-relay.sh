#!/usr/bin/env bash
# Benchmarks the TURN relay of `ranat serve` against coturn's turnserver, on
# loopback, in the same run: each server pinned to one core (taskset -c 0),
# the load on the other (taskset -c 1). The load (examples/relay_load.rs)
# allocates over UDP with ranat's client, binds a channel to a UDP sink of
# its own, and sends one ChannelData frame as fast as it can for SECONDS;
# the sink counts what the relay delivered. Small frames (100 bytes) measure
# packets per second, large ones (1200 bytes) throughput. Prints a markdown
# table of medians over RUNS runs (servers alternating) and the ratios
# ranat/coturn.
#
# Usage: scripts/bench-relay.sh [-n RUNS] [-t SECONDS]
#   -n RUNS      runs per server and size (default 3, at most 20)
#   -t SECONDS   load per run (default 3, at most 10)
#   RANAT_BIN    use this ranat instead of building target/release/ranat
#
# Every packet goes to 127.0.0.0/8; every daemon started here is stopped on
# exit. Needs coturn (turnserver) and taskset; a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

bench_runs_args 3 3 19 "$@"

TURNSERVER=$(command -v turnserver || echo /usr/bin/turnserver)
[ -x "$TURNSERVER" ] || { echo "SKIPPED: coturn (turnserver) not installed"; exit 0; }
command -v taskset >/dev/null || { echo "SKIPPED: taskset not installed"; exit 0; }
[ "$(nproc)" -ge 2 ] || echo "bench-relay: only one core: server and load share it" >&2

# Loopback addresses of our own, away from the tests' 127.0.x.
RANAT_IP=127.0.72.1 COTURN_IP=127.0.72.2 SINK_IP=127.0.72.3 PORT=34780
SECRET=bench-relay-secret

bench_workdir bench-relay

echo "== building (release)" >&2
bench_ranat_bin
cargo build --release --quiet --example relay_load
LOAD=target/release/examples/relay_load
echo "$SECRET" >"$WORK/secret"

# The relays: no quota in the way (ranat's bandwidth defaults are far below
# what loopback carries), relaying to the sink's loopback block only.
taskset -c 0 "$RANAT_BIN" serve --primary "$RANAT_IP" --port "$PORT" --alt-port $((PORT + 1)) \
    --no-rendezvous --relay-secret-file "$WORK/secret" --relay-allow "$SINK_IP/32" \
    --relay-user-bandwidth 100000000000 --relay-total-bandwidth 100000000000 \
    2>"$WORK/ranat.log" &
PIDS+=($!)
RANAT_PID=$!
taskset -c 0 "$TURNSERVER" -n --use-auth-secret --static-auth-secret="$SECRET" --realm bench \
    --listening-ip "$COTURN_IP" --relay-ip "$COTURN_IP" -p "$PORT" \
    --min-port 60000 --max-port 60999 --allow-loopback-peers --no-tls --no-dtls --no-cli \
    --no-tcp-relay --pidfile "$WORK/turnserver.pid" --userdb "$WORK/turndb" \
    --log-file "$WORK/turnserver.log" --simple-log --no-stdout-log 2>"$WORK/turnserver.stderr" &
PIDS+=($!)
COTURN_PID=$!
sleep 1

# CPU time of a process (all its threads) in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run SERVER_IP SERVER_PID SIZE: "delivered/s bytes/s sent/s server-CPU-µs-per-delivered"
run() {
    local line sent delivered bytes secs before after
    before=$(ticks "$2")
    line=$(timeout $((SECONDS_PER_RUN + 15)) taskset -c 1 "$LOAD" "$1:$PORT" "$WORK/secret" \
        "$SINK_IP" "$3" "$SECONDS_PER_RUN") || { echo "0 0 0 0"; return; }
    after=$(ticks "$2")
    read -r _ sent _ delivered _ bytes _ secs <<<"$line"
    awk -v s="$sent" -v d="$delivered" -v b="$bytes" -v t="$secs" -v c=$((after - before)) \
        -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %.0f %.0f %.2f\n", d / t, b / t, s / t, (d > 0) ? c * 1e6 / hz / d : 0 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A pps bps offered cpu
for size in 100 1200; do
    for ((i = 1; i <= RUNS; i++)); do
        for server in ranat coturn; do
            ip=$RANAT_IP pid=$RANAT_PID
            [ "$server" = coturn ] && ip=$COTURN_IP pid=$COTURN_PID
            read -r p b o u <<<"$(run "$ip" "$pid" "$size")"
            echo "   $server size $size run $i: $p delivered/s ($((b * 8 / 1000000)) Mbit/s of payload), $o sent/s, $u us server CPU per packet" >&2
            cpu[$server-$size]+="$u "
            pps[$server-$size]+="$p "
            bps[$server-$size]+="$b "
            offered[$server-$size]+="$o "
        done
    done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo
echo "relayed UDP through one channel, each server on one core, medians of $RUNS runs of ${SECONDS_PER_RUN} s:"
echo
echo "| payload | ranat serve | coturn | ranat/coturn |"
echo "|---|---|---|---|"
for size in 100 1200; do
    r=$(med "${pps[ranat-$size]}") c=$(med "${pps[coturn-$size]}")
    printf '| %s B, packets/s | %.0f | %.0f | %s |\n' "$size" "$r" "$c" \
        "$(awk -v r="$r" -v c="$c" 'BEGIN { if (c > 0) printf "%.2f", r / c; else print "n/a" }')"
    r=$(med "${bps[ranat-$size]}") c=$(med "${bps[coturn-$size]}")
    printf '| %s B, Mbit/s | %.0f | %.0f | %s |\n' "$size" "$(awk -v x="$r" 'BEGIN { print x * 8 / 1e6 }')" \
        "$(awk -v x="$c" 'BEGIN { print x * 8 / 1e6 }')" \
        "$(awk -v r="$r" -v c="$c" 'BEGIN { if (c > 0) printf "%.2f", r / c; else print "n/a" }')"
    r=$(med "${cpu[ranat-$size]}") c=$(med "${cpu[coturn-$size]}")
    printf '| %s B, server CPU us per packet (lower is better) | %.2f | %.2f | %s |\n' "$size" "$r" "$c" \
        "$(awk -v r="$r" -v c="$c" 'BEGIN { if (c > 0) printf "%.2f", r / c; else print "n/a" }')"
done
echo
echo "(offered load, packets/s sent by the client: ranat $(med "${offered[ranat-100]}") / coturn $(med "${offered[coturn-100]}") at 100 B)"
