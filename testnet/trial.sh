# shellcheck shell=bash
# Live end-to-end trials (sourced by lib.sh): `ranat trial --via` between
# client1 (behind router1, makes the code) and client2 (behind router2, joins
# with it), through a `ranat serve` rendezvous that hands both the relay's
# credentials. Each side probes, the two predict, gather (allocating on the
# relay at once, over TCP from the UDP-blocking profile), punch, tell each
# other how the punch ended, and open the session's QUIC channel: directly
# when both punches connected, else relayed address to relayed address. The
# helper then measures round trips, throughput and loss over the channel.
#
# A trial passes when both sides connected over the same kind of path, and
# it is the predicted one: direct where the punch was expected to connect,
# relayed where it was expected to fail.

# Bytes each way for the throughput: enough to measure, little enough for a
# relay held to 1 MB/s a user at 5 % loss.
TN_TRIAL_TRANSFER=262144
# The limit of one side's whole trial, in seconds.
TN_TRIAL_TIMEOUT=90

# A second rendezvous that offers coturn (198.51.100.60) as the relay
# instead of ranat serve's own: on ranat serve's alternate address, other
# ports (its STUN on 3578/3579, which the trial does not use: the probe
# and the gathering use the first server's 3478).
TN_TRIAL_COTURN_VIA="${TN_SERVER_RANAT[1]}:3581"

tn_start_ranat_serve_offering_coturn() {
    local bin secret
    bin=$(tn_ranat_bin) || return 1
    secret=$(tn_relay_secret_file) || return 1
    tn_spawn ranat-serve-coturn srv "$bin" serve --primary "${TN_SERVER_RANAT[1]}" \
        --port 3578 --alt-port 3579 --rendezvous-port 3581 \
        --offer-relay "${TN_SERVER_COTURN_RELAY[0]}:3478" --relay-secret-file "$secret" || return 1
    tn_wait_udp srv ranat-serve-coturn 5 "${TN_SERVER_RANAT[1]}:3578"
}

# tn_trial PROFILE1 PROFILE2 OUT [VIA]: loads the profiles into r1 and r2
# (their NATs without mappings), runs the trial on both clients through VIA
# (default: ranat serve's rendezvous) and prints
# "expected outcome1 outcome2 kind1 kind2" (expected: connects / likely /
# fails / unknown; outcome: direct / relayed / failed / error; kind: the path's kind
# or -). Each side's JSON and stderr are in OUT-c1.json/.stderr and OUT-c2.*.
# With TN_TRIAL_C2_PORTMAP=yes, client2 checks port mapping (and so maps
# its punch socket on router2, see tn_trial_mapped); else neither side does.
# With TN_TRIAL_IPV6=yes, both probe IPv6 as well (ranat serve's IPv6
# instance). With TN_TRIAL_AUTO_APPROVE=yes, client2 (the novice) lets client1 measure
# the session's figures over a scratch shell.
tn_trial() {
    local p1=$1 p2=$2 out=$3 via=${4:-${TN_SERVER_RANAT[0]}} bin code pid
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    load_profile r1 "$p1" || return 1
    load_profile r2 "$p2" || return 1
    tn_reset_nat r1 && tn_reset_nat r2 || return 1
    local common=(--json --no-teredo --no-hairpin --server "${TN_SERVER_RANAT[0]}:3478"
        --transfer "$TN_TRIAL_TRANSFER")
    # Both sides measure their IPv6 too (ranat serve on IPv6), so that the
    # prediction's IPv6 method rests on a measurement.
    [ "${TN_TRIAL_IPV6:-}" = yes ] && common+=(--server "[${TN_SERVER6_RANAT[0]}]:3478")
    local flags=(--no-portmap "${common[@]}") c2_flags=(--no-portmap "${common[@]}")
    [ "${TN_TRIAL_C2_PORTMAP:-}" = yes ] && c2_flags=("${common[@]}")
    # The session's figures (keystroke echo, screen updates) need the
    # novice's consent to share its scratch shell.
    [ "${TN_TRIAL_AUTO_APPROVE:-}" = yes ] && c2_flags+=(--auto-approve)
    tn_exec c1 timeout "$TN_TRIAL_TIMEOUT" "$bin" trial --via "$via" "${flags[@]}" \
        >"$out-c1.json" 2>"$out-c1.stderr" &
    pid=$!
    code=$(tn_wait_code "$out-c1.stderr")
    if [ -z "$code" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        echo "error error error - -"
        return 0
    fi
    tn_exec c2 timeout "$TN_TRIAL_TIMEOUT" "$bin" trial --via "$via" --code "$code" "${c2_flags[@]}" \
        >"$out-c2.json" 2>"$out-c2.stderr"
    wait "$pid"
    local expected
    expected=$(jq -r '.expected // "error"' "$out-c2.json" 2>/dev/null || echo error)
    echo "$expected $(_tn_trial_field "$out-c1.json" .outcome) $(_tn_trial_field "$out-c2.json" .outcome)" \
        "$(_tn_trial_field "$out-c1.json" .path.kind -) $(_tn_trial_field "$out-c2.json" .path.kind -)"
}

# tn_trial_mapped PROFILE1 PROFILE2 OUT: a trial whose client2 maps its
# punch socket on router2's miniupnpd (PCP, NAT-PMP or UPnP IGD, whichever
# its probe found working; miniupnpd runs for this trial only); prints
# tn_trial's five fields, then whether
# client2 sent a port-mapped candidate (yes / no) and whether router2's
# miniupnpd chains and lease file were empty afterwards (yes / no; the
# evidence in OUT.rules).
tn_trial_mapped() {
    local p1=$1 p2=$2 out=$3 result sent clean=no
    # miniupnpd's STUN self-test must see a public router (as gateway_cases
    # start it): behind the profile's NAT it would refuse every mapping.
    load_profile r2 public || return 1
    tn_start_miniupnpd r2 || return 1
    result=$(TN_TRIAL_C2_PORTMAP=yes tn_trial "$p1" "$p2" "$out")
    sent=$(jq -r 'if any(.punch.local_candidates[]; .kind == "port_mapped") then "yes" else "no" end' \
        "$out-c2.json" 2>/dev/null || echo no)
    tn_gateway_clean r2 "$out.rules" && clean=yes
    tn_stop miniupnpd-r2
    echo "$result $sent $clean"
}

# _tn_trial_field JSON FILTER [DEFAULT]: one field of one side's document.
_tn_trial_field() {
    jq -r "$2 // \"${3:-error}\"" "$1" 2>/dev/null || echo "${3:-error}"
}

# tn_trial_agrees "expected outcome1 outcome2 kind1 kind2": the verdict.
tn_trial_agrees() {
    local expected outcome1 outcome2
    read -r expected outcome1 outcome2 _ <<<"$1"
    [ "$outcome1" = "$outcome2" ] || return 1
    case $expected/$outcome1 in
        connects/direct | likely/direct | fails/relayed | unknown/direct | unknown/relayed) return 0 ;;
        *) return 1 ;;
    esac
}

# tn_trial_figures OUT: the helper's (c1's) figures in one line: time to
# connect, round trip p50/p95, throughput each way, loss.
tn_trial_figures() {
    jq -r '"\(.phases.connect_ms | floor) ms to connect, rtt \(.figures.rtt_p50_ms // "-" | tostring | .[0:5])/\(.figures.rtt_p95_ms // "-" | tostring | .[0:5]) ms, \(.figures.helper_to_novice_mbit_s // "-" | tostring | .[0:5])/\(.figures.novice_to_helper_mbit_s // "-" | tostring | .[0:5]) Mbit/s, loss \(.loss_percent // "-" | tostring | .[0:4]) %\(if .session then ", echo \(.session.echo_p50_ms | tostring | .[0:5])/\(.session.echo_p95_ms | tostring | .[0:5]) ms, \(.session.screen_updates_per_s) updates/s" else "" end)"' \
        "$1-c1.json" 2>/dev/null || echo "no figures"
}
