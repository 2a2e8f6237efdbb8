#!/usr/bin/env bash
# Benchmarks the STUN answers of `ranat serve` against coturn's turnserver
# (--stun-only, single-threaded: -m 0) and stund, on loopback, in the same
# run and with the same load (bench/stun-load: RFC 8489 Binding requests,
# 256 in flight over 16 client sockets, batched with sendmmsg/recvmmsg, each
# answer checked against its transaction id). Every server runs in RFC 5780
# mode (two addresses, two ports) pinned to core 0 (taskset), the load on
# core 1; then `ranat serve --threads 2` on cores 0-1, where its second
# thread shares core 1 with the load. Each round runs every server once,
# back to back; prints a markdown table of medians (answers/s, lost
# requests, server CPU per answer from /proc), the ratios ranat/coturn,
# ranat/stund and the 2-thread/1-thread scaling (each the median of the
# rounds' ratios, steadier than a ratio of medians when other work shares
# the machine), and ranat serve's peak RSS (VmHWM).
#
# Usage: scripts/bench-serve.sh [-n RUNS] [-t SECONDS]
#   -n RUNS      runs per server (default 5, at most 20)
#   -t SECONDS   load per run after a 0.3 s warm-up (default 3, at most 10)
#   RANAT_BIN    use this ranat instead of building target/release/ranat
#
# Every packet goes to 127.0.74.0/24; every daemon started here is stopped
# on exit. Installs coturn and stun-server with apt-get when missing (as
# root); skips a server that is still missing. Needs taskset; two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

bench_runs_args 5 3 24 "$@"
command -v taskset >/dev/null || { echo "SKIPPED: taskset not installed"; exit 0; }
[ "$(nproc)" -ge 2 ] || { echo "SKIPPED: needs two cores (server on one, load on the other)"; exit 0; }

install() { # package
    [ "$(id -u)" -eq 0 ] || return 0
    echo "== installing $1" >&2
    local apt="DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $1"
    sh -c "$apt" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && sh -c "$apt" >/dev/null 2>&1; } || true
}
have turnserver || install coturn
have stund || install stun-server

# Loopback addresses of our own, away from the tests' and the other benches'.
RANAT_A=127.0.74.1 RANAT_B=127.0.74.2
COTURN_A=127.0.74.3 COTURN_B=127.0.74.4
STUND_A=127.0.74.5 STUND_B=127.0.74.6
RANAT2_A=127.0.74.7 RANAT2_B=127.0.74.8
LOAD_IP=127.0.74.9
PORT=34790 ALT_PORT=34791

bench_workdir bench-serve

echo "== building (release)" >&2
bench_ranat_bin
cargo build --release --quiet -p stun-load
LOAD=target/release/stun-load

declare -A PID_OF IP_OF LABEL
SERVERS=()
start() { # name, label, ip, cores, command...
    local name="$1" label="$2" ip="$3" cores="$4"; shift 4
    taskset -c "$cores" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    PID_OF[$name]=$!
    IP_OF[$name]=$ip
    LABEL[$name]=$label
    wait_udp "$ip" "$PORT" "$name"
    SERVERS+=("$name")
}

start ranat "ranat serve --threads 1 (core 0)" "$RANAT_A" 0 \
    "$RANAT_BIN" serve --primary "$RANAT_A" --alternate "$RANAT_B" --port "$PORT" \
    --alt-port "$ALT_PORT" --no-rendezvous --threads 1
if have turnserver; then
    start coturn "coturn turnserver --stun-only -m 0 (core 0)" "$COTURN_A" 0 \
        "$(path_of turnserver)" -n --stun-only --no-auth --no-cli --no-tls --no-dtls --no-tcp \
        -m 0 -L "$COTURN_A" -L "$COTURN_B" -p "$PORT" --alt-listening-port "$ALT_PORT" \
        --pidfile "$WORK/turnserver.pid" --log-file "$WORK/turnserver.log" \
        --userdb "$WORK/turndb" --simple-log --no-stdout-log
else
    echo "SKIPPED: coturn (turnserver) not installed" >&2
fi
if have stund; then
    start stund "stund (core 0)" "$STUND_A" 0 \
        "$(path_of stund)" -h "$STUND_A" -a "$STUND_B" -p "$PORT" -o "$ALT_PORT"
else
    echo "SKIPPED: stund (stun-server) not installed" >&2
fi
start ranat2 "ranat serve --threads 2 (cores 0-1, one shared with the load)" "$RANAT2_A" 0,1 \
    "$RANAT_BIN" serve --primary "$RANAT2_A" --alternate "$RANAT2_B" --port "$PORT" \
    --alt-port "$ALT_PORT" --no-rendezvous --threads 2

# CPU time of a process (all its threads) in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run NAME: "answers/s lost server-CPU-us-per-answer"
run() {
    local line answered lost secs rate before after
    before=$(ticks "${PID_OF[$1]}")
    line=$(timeout $((SECONDS_PER_RUN + 10)) taskset -c 1 "$LOAD" "${IP_OF[$1]}:$PORT" \
        --bind "$LOAD_IP" --sockets 16 --in-flight 256 --seconds "$SECONDS_PER_RUN") ||
        { echo "0 0 0"; return; }
    after=$(ticks "${PID_OF[$1]}")
    read -r _ answered _ lost _ secs _ rate <<<"$line"
    awk -v a="$answered" -v l="$lost" -v r="$rate" -v c=$((after - before)) \
        -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %d %.2f\n", r, l, (a > 0) ? c * 1e6 / hz / a : 0 }'
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

declare -A RATE LOST CPU ROUND_RATE ROUND_CPU
for ((i = 1; i <= RUNS; i++)); do
    for name in "${SERVERS[@]}"; do
        read -r r l u <<<"$(run "$name")"
        echo "   $name run $i: $r answers/s, $l lost, $u us server CPU per answer" >&2
        RATE[$name]+="$r " LOST[$name]+="$l " CPU[$name]+="$u "
        ROUND_RATE[$name-$i]=$r ROUND_CPU[$name-$i]=$u
    done
done

# per_round A B FIELD: the median over runs of A's figure ÷ B's in the same
# round (one round runs every server back to back, so the ratio is steady
# when the machine's other load is not).
per_round() {
    local i ratios="" a b
    for ((i = 1; i <= RUNS; i++)); do
        if [ "$3" = rate ]; then a=${ROUND_RATE[$1-$i]} b=${ROUND_RATE[$2-$i]}
        else a=${ROUND_CPU[$2-$i]} b=${ROUND_CPU[$1-$i]}; fi
        ratios+="$(ratio "$a" "$b") "
    done
    median "$(tr ' ' '\n' <<<"$ratios" | grep -v n/a | tr '\n' ' ')"
}

rss() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
echo
echo "STUN Binding answers on loopback, medians of $RUNS runs of ${SECONDS_PER_RUN} s (load: 256 requests in flight over 16 sockets, on core 1):"
echo
echo "| server | answers/s | lost per run | server CPU µs per answer |"
echo "|---|---:|---:|---:|"
for name in "${SERVERS[@]}"; do
    printf '| %s | %.0f | %s | %s |\n' "${LABEL[$name]}" "$(median "${RATE[$name]}")" \
        "$(median "${LOST[$name]}")" "$(median "${CPU[$name]}")"
done
echo
echo "Ratios, medians over the rounds of each round's ratio (answers/s; CPU per answer, theirs ÷ ranat's):"
echo
for other in coturn stund; do
    [ -n "${PID_OF[$other]:-}" ] || continue
    echo "- ranat/$other, one core each: $(per_round ranat "$other" rate)× the answers/s, $(per_round ranat "$other" cpu)× less CPU per answer"
done
echo "- ranat 2 threads/1 thread: $(per_round ranat2 ranat rate)× the answers/s (the second thread shares core 1 with the load generator: this machine has two cores)"
echo "- ranat serve's peak RSS after all runs: $(rss "${PID_OF[ranat]}") MiB with 1 thread, $(rss "${PID_OF[ranat2]}") MiB with 2"
