# shellcheck shell=bash
# The gateway checks of `ranat probe` behind every NAT profile, against the
# test bed's real miniupnpd (UPnP IGD, PCP, NAT-PMP) on router r2 and its real
# miredo-server (sourced by lib.sh). Each probe is reduced to one line:
#
#   upnp pcp teredo topology removed
#
# upnp / pcp: the status of the method (works, unverified, refused, ...), pcp
# with the protocol that answered (works/pcp); teredo: the NAT type as Teredo
# sees it, or "offline"; topology: the NAT-layer finding; removed: "yes" when
# every test mapping was confirmed deleted by ranat *and* router r2's
# miniupnpd chains and lease file hold nothing afterwards.

TN_GATEWAY_FIELDS=(upnp pcp teredo topology removed)

# Why each expectation holds:
# - A miniupnpd mapping is a DNAT rule ahead of the profile's own rules, so
#   it admits the STUN server's RESPONSE-PORT answer behind every NAT type.
# - udp_blocked drops forwarded UDP: the STUN server never answers, so the
#   mappings are made but cannot be tested ("unverified"), and Teredo is
#   offline.
# - public: the client holds a public address outside miniupnpd's LAN, so
#   miniupnpd ignores its SSDP search and its PCP requests (which come in
#   on an address miniupnpd does not listen on); there is no NAT to map
#   through.
# - Teredo: a cone-flag RS is answered from the server's other address, which
#   only endpoint-independent filtering admits (cone); the mapped ports seen
#   by the two server addresses differ exactly when mapping depends on the
#   destination (symmetric); otherwise restricted.
#  case                  profile[:options]     upnp        pcp             teredo     topology   removed
TN_GATEWAY_CASES=(
    "public               public                not_found   not_found       cone       no_nat     yes"
    "udp_blocked          udp_blocked           unverified  unverified/pcp  offline    unknown    yes"
    "full_cone            full_cone             works       works/pcp       cone       single_nat yes"
    "restricted_cone      restricted_cone       works       works/pcp       restricted single_nat yes"
    "port_restricted_cone port_restricted_cone  works       works/pcp       restricted single_nat yes"
    "symmetric_random     symmetric_random      works       works/pcp       symmetric  single_nat yes"
    "symmetric_sequential symmetric_sequential  works       works/pcp       symmetric  single_nat yes"
    "address_dependent    address_dependent     works       works/pcp       symmetric  single_nat yes"
)

# tn_gateway_probe ROLE ROUTER OUT: a full `ranat probe -4 --json` (port
# mapping and Teredo included) from ROLE; prints the five fields.
tn_gateway_probe() {
    local role=$1 router=$2 out=$3 bin removed
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    tn_exec "$role" timeout 60 "$bin" probe -4 --json --no-hairpin \
        --server "${TN_SERVER_RANAT[0]}:3478" \
        --teredo-server "${TN_SERVER_MIREDO[0]}" >"$out" 2>"$out.stderr"
    removed=no
    if jq -e '[.port_mapping.upnp.mapping, .port_mapping.pcp.mapping]
              | map(select(. != null)) | all(.deleted)' "$out" >/dev/null 2>&1 &&
        tn_gateway_clean "$router" "$out.rules"; then
        removed=yes
    fi
    jq -r --arg removed "$removed" '[
            .port_mapping.upnp.status,
            (.port_mapping.pcp.status + (if .port_mapping.pcp.protocol then "/" + .port_mapping.pcp.protocol else "" end)),
            (if .teredo.state == "offline" then "offline" else (.teredo.nat_type // "null") end),
            .topology.finding,
            $removed
        ] | join(" ")' "$out" 2>/dev/null || echo "error - - - -"
}

# tn_gateway_clean ROUTER EVIDENCE: true when the router's miniupnpd chains
# hold no rule and its lease file no lease; the chains go to EVIDENCE.
tn_gateway_clean() {
    local router=$1 evidence=$2 chain leases
    : >"$evidence"
    for chain in miniupnpd prerouting_miniupnpd postrouting_miniupnpd; do
        tn_exec "$router" nft list chain inet rnat "$chain" >>"$evidence" 2>&1 || return 1
    done
    leases=$TN_DIR/run/miniupnpd-$router.leases
    [ -s "$leases" ] && { echo "leases:" && cat "$leases"; } >>"$evidence"
    # A rule line names a port ("dport", "dnat", "snat", "accept").
    ! grep -qE 'dport|dnat|snat|accept' "$evidence" && ! [ -s "$leases" ]
}

# tn_gateway_compare EXPECTED OBSERVED: like tn_compare, over the gateway fields.
tn_gateway_compare() {
    local -a expected observed
    read -r -a expected <<<"$1"
    read -r -a observed <<<"$2"
    local i diffs=()
    for i in "${!TN_GATEWAY_FIELDS[@]}"; do
        [ "${expected[i]:--}" = "${observed[i]:--}" ] || diffs+=("${TN_GATEWAY_FIELDS[i]}=${observed[i]:--}")
    done
    [ ${#diffs[@]} -eq 0 ] && return 0
    echo "${diffs[*]}"
    return 1
}
