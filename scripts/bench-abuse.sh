#!/usr/bin/env bash
# Measures what `ranat serve` gives an attacker, on loopback only: bytes
# out per byte in for every request kind of the STUN service and the TURN
# relay, and a bounded flood of valid and garbage datagrams while a real
# `ranat probe` runs (tests/abuse.rs), and a hostile UPnP gateway against
# the probe (tests/upnp_hostile.rs); the tests assert the bounds. Prints
# the figures and writes them to target/abuse.md.
#
#   scripts/bench-abuse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f target/tmp/abuse-*.md
cargo test --test abuse --test upnp_hostile -- --test-threads=1 >target/abuse.log 2>&1 || {
    tail -40 target/abuse.log >&2
    echo "bench-abuse: the abuse tests failed (target/abuse.log)" >&2
    exit 1
}
{
    echo "## Amplification (bytes out ÷ bytes in, per request)"
    echo
    cat target/tmp/abuse-amplification.md
    echo
    echo "## Flood"
    echo
    cat target/tmp/abuse-flood.md
    echo
    echo "## A hostile UPnP gateway against ranat probe"
    echo
    echo "| the gateway answers | probe's wall time | probe's peak memory | UPnP result |"
    echo "|---|---|---|---|"
    cat target/tmp/abuse-gateway-*.md
} | tee target/abuse.md
