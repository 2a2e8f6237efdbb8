#!/usr/bin/env bash
# Benchmarks the session's connection in the network test bed (testnet/,
# root), from one run of `ranat trial` pairs:
#   1. a cone pair (full cone x port-restricted cone) with 50 ms of round
#      trip added on client1's router: the time to connect once both sides
#      are met and probed (the trial's connect_ms: sealed reports,
#      candidates, checks, outcomes, QUIC handshake), against the target of
#      3 round trips + 100 ms;
#   2. a relayed pair (symmetric, random ports on both sides) at the same
#      50 ms: the time to connect through ranat serve's relay;
#   3. throughput over the channel between two public clients (no NAT, no
#      delay) as a ratio to plain UDP on the same path, measured by iperf3
#      (-u, unlimited rate) in the same run.
# Prints a markdown table of medians over RUNS runs.
#
# Usage: scripts/bench-trial.sh [-n RUNS]
#   -n RUNS     trials per pair (default 3, at most 10)
#   RANAT_BIN   use this ranat instead of building target/release/ranat
#
# Every packet stays inside the test bed's namespaces, which are removed on
# exit. Needs root; installs iperf3 with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "-n needs 1-10" >&2; exit 2 ;; esac
[ "$RUNS" -le 10 ] || { echo "-n needs 1-10" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: bench-trial needs root (network namespaces)"; exit 0; }

if ! command -v iperf3 >/dev/null; then
    echo "== installing iperf3" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iperf3 >/dev/null; }
fi
if [ -z "${RANAT_BIN:-}" ]; then
    echo "== building (release)" >&2
    cargo build --release --quiet --bin ranat
    export RANAT_BIN=target/release/ranat
fi

# shellcheck source=testnet/lib.sh
. testnet/lib.sh
# The test bed's helpers report failures by status (a stopped daemon's
# wait included): each step below checks what it needs.
set +e
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ranat-bench-trial.XXXXXX")
trap 'tn_down; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM
tn_up >&2 || { echo "could not build the test bed" >&2; exit 1; }
tn_start_ranat_serve >&2 || { echo "could not start ranat serve" >&2; exit 1; }

# median VALUES...: the middle value (the lower middle of an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# connect_times P1 P2 TRANSFER: RUNS trials; prints c1's connect_ms and
# outcome per line.
connect_times() {
    local p1=$1 p2=$2 i result
    TN_TRIAL_TRANSFER=$3
    for ((i = 1; i <= RUNS; i++)); do
        result=$(tn_trial "$p1" "$p2" "$OUT/$p1-$p2-$i")
        echo "   $p1 x $p2 run $i: $result" >&2
        jq -r '"\(.phases.connect_ms) \(.outcome) \(.phases.checks_ms) \(.phases.quic_ms) \(.figures.helper_to_novice_mbit_s // 0)"' \
            "$OUT/$p1-$p2-$i-c1.json" 2>/dev/null || echo "0 error 0 0 0"
    done
}

echo "== cone pair at 50 ms" >&2
set_delay r1 25 >&2
mapfile -t cone < <(connect_times full_cone port_restricted_cone 65536)
echo "== relayed pair at 50 ms" >&2
mapfile -t relayed < <(connect_times symmetric_random symmetric_random 65536)
set_delay r1 0 >&2

echo "== throughput, public x public" >&2
mapfile -t public < <(connect_times public public 16777216)
load_profile r1 public >&2 && load_profile r2 public >&2
c2_ip=$(ip -n "$(tn_ns c2)" -4 -o addr show | awk '$2 != "lo" { sub("/.*", "", $4); print $4; exit }')
tn_spawn iperf3 c2 iperf3 -s -1 -B "$c2_ip" >&2
sleep 0.5
udp_mbit=$(tn_exec c1 iperf3 -u -b 0 -l 1200 -t 3 -c "$c2_ip" -J 2>/dev/null |
    jq -r '.end.sum.bits_per_second / 1e6' 2>/dev/null || echo 0)
tn_stop iperf3

column() { local n=$1; shift; printf '%s\n' "$@" | awk -v n="$n" '{ print $n }'; }
cone_ms=$(median $(column 1 "${cone[@]}"))
relayed_ms=$(median $(column 1 "${relayed[@]}"))
quic_mbit=$(median $(column 5 "${public[@]}"))
target=$((3 * 50 + 100))
echo
echo "| measure | ranat (median of $RUNS) | comparison | ratio |"
echo "|---|---|---|---|"
printf '| time to connect, cone pair, 50 ms RTT (%s/%s direct) | %.0f ms | target 3 RTT + 100 ms = %d ms | %.2f |\n' \
    "$(printf '%s\n' "${cone[@]}" | grep -c ' direct ')" "$RUNS" "$cone_ms" "$target" \
    "$(awk -v a="$cone_ms" -v b="$target" 'BEGIN { print a / b }')"
printf '| time to connect, relayed pair, 50 ms RTT (%s/%s relayed) | %.0f ms | - | - |\n' \
    "$(printf '%s\n' "${relayed[@]}" | grep -c ' relayed ')" "$RUNS" "$relayed_ms"
printf '| throughput helper to novice, public pair | %.1f Mbit/s | plain UDP (iperf3 -u) %.1f Mbit/s | %.2f |\n' \
    "$quic_mbit" "$udp_mbit" "$(awk -v a="$quic_mbit" -v b="$udp_mbit" 'BEGIN { print (b > 0 ? a / b : 0) }')"
