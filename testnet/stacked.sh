# shellcheck shell=bash
# Stacked NATs (sourced by lib.sh): client1 behind router1 behind an outer
# NAT o1 (tn_stack), router1 running the real miniupnpd. The complete
# `ranat probe -4 --json` from client1 is reduced to one line of the six
# fields of testnet/probes.sh followed by six more:
#
#   topology upnp upnp_test pcp teredo removed
#
# topology: the NAT-layer finding; upnp / pcp: the port-mapping status
# (pcp with the protocol that answered); upnp_test: how ranat's end-to-end
# test of the UPnP mapping (a STUN answer sent to its external port by
# RESPONSE-PORT, RFC 5780 §7.5) went, "none" without a mapping; teredo: the
# NAT type Teredo sees; removed: as in testnet/gateway.sh, every test
# mapping deleted and router1's miniupnpd chains and lease file empty.

TN_STACKED_FIELDS=(status classic mapping filtering hairpinning allocation
    topology upnp upnp_test pcp teredo removed)

# Why each expectation holds:
# - The NATs in a row map as the more dependent of the two and filter as
#   the stricter: full cone (EI/EI) behind a port-restricted cone (EI/APD)
#   is a port-restricted cone; anything behind a symmetric NAT is symmetric,
#   with the outer NAT's random ports.
# - Hairpinning: c1's packet to its own public address (o1's) is looped
#   back by o1 (option hairpin) to router1's WAN, where it arrives from o1's
#   address, an endpoint the mapping never sent to: only router1's
#   endpoint-independent filtering (full cone) lets it in.
# - miniupnpd's STUN self-test (its own server, whose answers o1 forwards,
#   testnet/profiles.sh) finds a "full-cone 1:1" NAT beyond a port-preserving
#   outer NAT and makes mappings, reporting o1's public address as its
#   external address; the Internet cannot reach them, since o1 knows
#   nothing of them: ranat's test is not reached, so double NAT. Beyond a
#   symmetric NAT miniupnpd refuses every mapping (UPnP 501 ActionFailed,
#   PCP NO_RESOURCES) yet still reports the public address: nothing proves
#   a single NAT, so "nat" (layers unknown).
#  case    stack   outer profile                inner profile        status classic mapping filtering hairpinning allocation topology upnp upnp_test pcp teredo removed
TN_STACKED_CASES=(
    "cgnat   cgnat   port_restricted_cone:hairpin full_cone            ok port_restricted_cone endpoint_independent address_and_port_dependent true preserving double_nat unreachable not_reached unreachable/pcp restricted yes"
    "private private symmetric_random             port_restricted_cone ok symmetric address_and_port_dependent address_and_port_dependent false random nat refused none refused/pcp symmetric yes"
)

# Punch pairs across stacked NATs (testnet/punch.sh): the stacked case,
# router2's profile, and the prediction the pair must meet.
TN_STACKED_PUNCHES=(
    "cgnat   port_restricted_cone connects"
    "private port_restricted_cone fails"
)

# tn_stacked_setup CASE: stacks router1 as the case says and loads both
# profiles (start miniupnpd on router1 after it).
tn_stacked_setup() {
    local entry name kind outer inner
    entry=$(printf '%s\n' "${TN_STACKED_CASES[@]}" | awk -v n="$1" '$1 == n')
    read -r name kind outer inner _ <<<"$entry"
    [ -n "$name" ] || { tn_die "unknown stacked case '$1'"; return 1; }
    tn_unstack r1 || return 1
    local -a spec
    IFS=: read -r -a spec <<<"$inner"
    load_profile r1 "${spec[@]}" || return 1
    tn_stack r1 "$kind" || return 1
    IFS=: read -r -a spec <<<"$outer"
    load_profile o1 "${spec[@]}"
}

# tn_stacked_probe OUT: the complete probe from client1 (port mapping
# against router1's miniupnpd, Teredo against miredo-server, hairpinning);
# prints the twelve fields.
tn_stacked_probe() {
    local out=$1 bin six removed
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    six=$(_tn_probe_ranat_with c1 "$out" "${TN_SERVER_RANAT[0]}:3478" -4 \
        --teredo-server "${TN_SERVER_MIREDO[0]}")
    removed=no
    if jq -e '[.port_mapping.upnp.mapping, .port_mapping.pcp.mapping]
              | map(select(. != null)) | all(.deleted)' "$out" >/dev/null 2>&1 &&
        tn_gateway_clean r1 "$out.rules"; then
        removed=yes
    fi
    echo "$six $(jq -r --arg removed "$removed" '[
            .topology.finding,
            .port_mapping.upnp.status,
            (.port_mapping.upnp.mapping.verification.result // "none"),
            (.port_mapping.pcp.status + (if .port_mapping.pcp.protocol then "/" + .port_mapping.pcp.protocol else "" end)),
            (if .teredo.state == "offline" then "offline" else (.teredo.nat_type // "null") end),
            $removed
        ] | join(" ")' "$out" 2>/dev/null || echo "error - - - - -")"
}

# tn_stacked_compare EXPECTED OBSERVED: like tn_compare, over the twelve fields.
tn_stacked_compare() {
    local -a expected observed
    read -r -a expected <<<"$1"
    read -r -a observed <<<"$2"
    local i diffs=()
    for i in "${!TN_STACKED_FIELDS[@]}"; do
        [ "${expected[i]:--}" = "${observed[i]:--}" ] || diffs+=("${TN_STACKED_FIELDS[i]}=${observed[i]:--}")
    done
    [ ${#diffs[@]} -eq 0 ] && return 0
    echo "${diffs[*]}"
    return 1
}
