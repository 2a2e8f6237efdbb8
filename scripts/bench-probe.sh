#!/usr/bin/env bash
# Benchmarks `ranat probe` on loopback against `ranat serve`, next to the
# tools it replaces, each against its own server:
#   - coturn's turnutils_natdiscovery -m -f   against turnserver (STUN only)
#   - the Debian `stun` client (Vovida 0.97)  against stund
# For each: median and p90 wall time and peak RSS over N runs (one warm-up
# run first), as a markdown table, then the ratios ranat/them, and ranat's
# figures against the targets (< 0.5 s wall, < 20 MB peak RSS).
#
# Usage: scripts/bench-probe.sh [-n RUNS] [--strict]
#        scripts/bench-probe.sh --testnet [compare-anchors options]
#   -n RUNS     runs per tool (default 20, or $BENCH_RUNS)
#   --strict    exit 1 if ranat misses a target
#   --testnet   instead: in the test bed (root), per NAT profile at 0 and
#               50 ms RTT, with and without UPnP/PCP on the router, the
#               complete default probe beside its STUN part and the two
#               other tools, and the complete probe against its targets
#               (scripts/compare-anchors.sh, which says more)
#   RANAT_BIN   use this binary instead of building target/release/ranat
#
# Every packet goes to 127.0.0.0/8 (with --testnet: stays inside the test
# bed's namespaces); every daemon started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

RUNS="${BENCH_RUNS:-20}"
STRICT=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS="$2"; shift 2 ;;
        --strict) STRICT=1; shift ;;
        --testnet)
            shift
            if [ -z "${RANAT_BIN:-}" ]; then
                cargo build --release --quiet --bin ranat
                export RANAT_BIN=target/release/ranat
            fi
            exec scripts/compare-anchors.sh "$@" ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "-n needs a positive number" >&2; exit 2 ;; esac

TARGET_WALL_MS=500
TARGET_RSS_KB=$((20 * 1024))

# Loopback addresses of our own, away from the tests' 127.0.{10,20,30}.x.
RANAT_A=127.0.40.1 RANAT_B=127.0.40.2
COTURN_A=127.0.40.3 COTURN_B=127.0.40.4
STUND_A=127.0.40.5 STUND_B=127.0.40.6

bench_workdir bench


# GNU time, for peak RSS.
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "== installing GNU time" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends time >/dev/null
    fi
    [ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 1; }
fi

if [ -n "${RANAT_BIN:-}" ]; then
    RANAT="$RANAT_BIN"
else
    echo "== cargo build --release" >&2
    cargo build --release --quiet --bin ranat
    RANAT=target/release/ranat
fi

# Two consecutive UDP ports nothing listens on, on any address (checked
# with ss when available; the addresses are ours alone anyway).
port_is_free() {
    have ss || return 0
    [ -z "$(ss -Huln "( sport = :$1 )" 2>/dev/null)" ]
}
free_port_pair() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if port_is_free "$p" && port_is_free "$((p + 1))"; then
            echo "$p $((p + 1))"; return
        fi
    done
}

start() { # name, command...
    local name="$1"; shift
    "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=("$!")
}

# measure NAME CMD... : runs CMD RUNS times (after one warm-up); records
# wall ms, peak RSS KB and exit code per run in $WORK/NAME.runs.
measure() {
    local name="$1"; shift
    local runs="$WORK/$name.runs" t0 t1 code rss
    : >"$runs"
    /usr/bin/time -v -o "$WORK/time.txt" timeout 30 "$@" >/dev/null 2>&1 || true
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        set +e
        /usr/bin/time -v -o "$WORK/time.txt" timeout 30 "$@" >"$WORK/$name.last" 2>&1
        code=$?
        set -e
        t1=$(date +%s%N)
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
        echo "$(( (t1 - t0) / 1000000 )) ${rss:-0} $code" >>"$runs"
    done
}

# stats FILE COLUMN : "median p90 max" of a column (nearest-rank p90).
stats() {
    awk -v c="$2" '{print $c}' "$1" | sort -n | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            i = int(0.9 * NR); if (i < 0.9 * NR) i++
            printf "%s %s %s\n", med, v[i], v[NR]
        }'
}

codes() { awk '{print $3}' "$1" | sort -n | uniq -c | awk '{printf "%s%s×%s", (NR>1?", ":""), $2, $1}'; }

ROWS=()
row() { # name, label, server label
    local runs="$WORK/$1.runs"
    if [ ! -s "$runs" ]; then
        ROWS+=("| $2 | $3 | SKIPPED: not installed | | | | |")
        return
    fi
    read -r wmed wp90 _ < <(stats "$runs" 1)
    read -r rmed _ rmax < <(stats "$runs" 2)
    ROWS+=("$(printf '| %s | %s | %s | %s | %s | %.1f | %.1f | %s |' \
        "$2" "$3" "$(wc -l <"$runs")" "$wmed" "$wp90" \
        "$(echo "$rmed" | awk '{print $1/1024}')" "$(echo "$rmax" | awk '{print $1/1024}')" \
        "$(codes "$runs")")")
}

# --- ranat ----------------------------------------------------------------
read -r RP RQ < <(free_port_pair)
start ranat-serve "$RANAT" serve --primary "$RANAT_A" --alternate "$RANAT_B" --port "$RP" --alt-port "$RQ"
wait_udp "$RANAT_A" "$RP" "ranat serve"
echo "== ranat probe × $RUNS against ranat serve $RANAT_A:$RP" >&2
measure ranat env -u RANAT_SERVERS "$RANAT" probe -4 --json --no-portmap --no-teredo --server "$RANAT_A:$RP"
if ! grep -q '"classic": "open_internet"' "$WORK/ranat.last"; then
    echo "ranat probe did not classify loopback as open internet:" >&2
    cat "$WORK/ranat.last" >&2
    exit 1
fi

# --- coturn ---------------------------------------------------------------
if have turnserver && have turnutils_natdiscovery; then
    read -r CP CQ < <(free_port_pair)
    start turnserver "$(path_of turnserver)" -n --stun-only --no-auth --no-cli \
        --no-tls --no-dtls --no-tcp -L "$COTURN_A" -L "$COTURN_B" \
        -p "$CP" --alt-listening-port "$CQ" --pidfile "$WORK/turnserver.pid" \
        --log-file "$WORK/turnserver.log" --userdb "$WORK/turndb" \
        --simple-log --no-stdout-log
    wait_udp "$COTURN_A" "$CP" turnserver
    echo "== turnutils_natdiscovery -m -f × $RUNS against turnserver $COTURN_A:$CP" >&2
    measure natdiscovery "$(path_of turnutils_natdiscovery)" -m -f -p "$CP" "$COTURN_A"
else
    echo "SKIPPED: turnserver/turnutils_natdiscovery (coturn) not installed" >&2
fi

# --- stund + stun ---------------------------------------------------------
if have stund && have stun; then
    read -r SP SQ < <(free_port_pair)
    start stund "$(path_of stund)" -h "$STUND_A" -a "$STUND_B" -p "$SP" -o "$SQ"
    wait_udp "$STUND_A" "$SP" stund
    echo "== stun × $RUNS against stund $STUND_A:$SP" >&2
    measure stun "$(path_of stun)" "$STUND_A:$SP"
else
    echo "SKIPPED: stund/stun (stun-server, stun-client) not installed" >&2
fi

row ranat "ranat probe -4 --json" "ranat serve"
row natdiscovery "turnutils_natdiscovery -m -f" "coturn turnserver"
row stun "stun (Vovida 0.97)" "stund"

echo
echo "### NAT probe on loopback: $RUNS runs each ($(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d))"
echo
echo "| client | server | runs | wall median (ms) | wall p90 (ms) | peak RSS median (MB) | peak RSS max (MB) | exit codes |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Exit codes: ranat 0 = traversal-friendly; stun exits with a result bitmask (1 = open) even on success."

read -r R_WALL _ < <(stats "$WORK/ranat.runs" 1)
read -r R_RSS _ R_RSS_MAX < <(stats "$WORK/ranat.runs" 2)
ratio_rows=()
for other in natdiscovery stun; do
    [ -s "$WORK/$other.runs" ] || continue
    read -r O_WALL _ < <(stats "$WORK/$other.runs" 1)
    read -r O_RSS _ < <(stats "$WORK/$other.runs" 2)
    ratio_rows+=("$(awk -v n="$other" -v rw="$R_WALL" -v ow="$O_WALL" -v rr="$R_RSS" -v or="$O_RSS" \
        'BEGIN { printf "| ranat / %s | %s | %s |", n,
                 (ow > 0 ? sprintf("%.2f", rw / ow) : "n/a (0 ms)"),
                 (or > 0 ? sprintf("%.2f", rr / or) : "n/a") }')")
done
if [ ${#ratio_rows[@]} -gt 0 ]; then
    echo
    echo "| ratio | wall median | peak RSS median |"
    echo "|---|---:|---:|"
    printf '%s\n' "${ratio_rows[@]}"
fi

verdict() { if [ "$1" -lt "$2" ]; then echo "met"; else echo "MISSED"; fi; }
WALL_OK=$(verdict "${R_WALL%.*}" "$TARGET_WALL_MS")
RSS_OK=$(verdict "$R_RSS_MAX" "$TARGET_RSS_KB")
echo
echo "| ranat target | measured | target | |"
echo "|---|---:|---:|---|"
echo "| wall time (median) | ${R_WALL} ms | < ${TARGET_WALL_MS} ms | $WALL_OK |"
echo "| peak RSS (max of runs) | $(awk -v k="$R_RSS_MAX" 'BEGIN{printf "%.1f", k/1024}') MB | < 20 MB | $RSS_OK |"

if [ "$STRICT" -eq 1 ] && { [ "$WALL_OK" != met ] || [ "$RSS_OK" != met ]; }; then
    exit 1
fi
