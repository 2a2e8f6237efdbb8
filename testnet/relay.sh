# shellcheck shell=bash
# Relay trials (sourced by lib.sh): client1 behind the UDP-blocking router
# reaches a TURN relay over TCP, client2 behind a symmetric NAT over UDP, and
# the two exchange pings through the relay, relayed address to relayed
# address, with `ranat relay-test` on both sides. The relays are `ranat serve`
# (198.51.100.10) and coturn (198.51.100.60), with the test bed's secret.
# Neither relay needs --relay-allow here: the peers are the relayed addresses
# (on the relay's own address, relayed ports, which ranat serve allows), never
# 10.0.x; and the test bed's public ranges (198.51.100.0/24, 203.0.113.0/24)
# are not in ranat's default denied blocks.

# How many pings each side sends, and the whole trial's limit in seconds.
TN_RELAY_COUNT=50
TN_RELAY_TIMEOUT=30

# tn_relay_trial SERVER OUT: loads udp_blocked into r1 and symmetric_random
# into r2, checks that c1 gets no allocation over UDP (the router blocks it),
# then runs relay-test on c1 (TCP) and c2 (UDP) against each other through
# SERVER (IP:PORT). Prints "udp_rc c1_rc c2_rc": 30 0 0 is a pass. The output
# of each side is in OUT-c1.out/.err and OUT-c2.out/.err.
tn_relay_trial() {
    local server=$1 out=$2 bin secret udp_rc c1_rc c2_rc pid
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    secret=$(tn_relay_secret_file) || return 1
    load_profile r1 udp_blocked || return 1
    load_profile r2 symmetric_random || return 1
    rm -f "$out"-c1.addr "$out"-c2.addr
    tn_exec c1 timeout 10 "$bin" relay-test --relay "$server" --secret-file "$secret" \
        --timeout 3 >"$out-c1-udp.out" 2>"$out-c1-udp.err"
    udp_rc=$?
    local common=(--relay "$server" --secret-file "$secret" --count "$TN_RELAY_COUNT"
        --interval-ms 10 --timeout "$TN_RELAY_TIMEOUT")
    tn_exec c1 timeout $((TN_RELAY_TIMEOUT + 5)) "$bin" relay-test "${common[@]}" --tcp \
        --write-relayed "$out-c1.addr" --peer-file "$out-c2.addr" >"$out-c1.out" 2>"$out-c1.err" &
    pid=$!
    tn_exec c2 timeout $((TN_RELAY_TIMEOUT + 5)) "$bin" relay-test "${common[@]}" \
        --write-relayed "$out-c2.addr" --peer-file "$out-c1.addr" >"$out-c2.out" 2>"$out-c2.err"
    c2_rc=$?
    wait "$pid"
    c1_rc=$?
    echo "$udp_rc $c1_rc $c2_rc"
}

# tn_relay_summary OUT: one line from both sides' reports.
tn_relay_summary() {
    local out=$1 side line
    for side in c1 c2; do
        line=$(grep -h '^peer ' "$out-$side.out" 2>/dev/null | sed 's/^peer [^ ]* //; s/ of the peer.s pings//')
        printf '%s: %s; ' "$side" "${line:-no exchange}"
    done
}

# tn_relay_mismatch SERVER OUT: a NAT that hands a new host the public port
# of an allocation that still lives. c2, behind symmetric_sequential, takes
# an allocation on SERVER and vanishes without giving it back (kill -9);
# router2 is reloaded, so that its next flow gets the same public port
# again, and c2 allocates once more. The relay answers 437 Allocation
# Mismatch on that 5-tuple (RFC 8656 §7.2), and the client moves to a new
# socket (§7.4). Prints "first second rc": the two relayed addresses and
# the second relay-test's exit code ("- - rc" when the first failed).
tn_relay_mismatch() {
    local server=$1 out=$2 bin secret pid first second rc
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    secret=$(tn_relay_secret_file) || return 1
    load_profile r2 symmetric_sequential || return 1
    rm -f "$out"-first.addr "$out"-second.addr
    # Waits for a peer address that never comes, holding the allocation.
    tn_exec c2 "$bin" relay-test --relay "$server" --secret-file "$secret" --timeout 20 \
        --write-relayed "$out-first.addr" --peer-file "$out-none.addr" \
        >"$out-first.out" 2>"$out-first.err" &
    pid=$!
    local waited=0
    while [ ! -s "$out-first.addr" ] && [ $waited -lt 50 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    first=$(cat "$out-first.addr" 2>/dev/null)
    load_profile r2 symmetric_sequential || return 1
    tn_exec c2 timeout 10 "$bin" relay-test --relay "$server" --secret-file "$secret" --timeout 5 \
        --write-relayed "$out-second.addr" >"$out-second.out" 2>"$out-second.err"
    rc=$?
    second=$(cat "$out-second.addr" 2>/dev/null)
    echo "${first:--} ${second:--} $rc"
}
