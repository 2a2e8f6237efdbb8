# shellcheck shell=bash
# NAT probes run from a client namespace, each reduced to one line of six
# fields (sourced by lib.sh):
#
#   status classic mapping filtering hairpinning allocation
#
# with ranat's JSON spellings (status ok|udp_blocked|..., classic
# port_restricted_cone..., mapping/filtering endpoint_independent...,
# hairpinning true|false, allocation preserving|random|sequential/DELTA).
# "null" is a field the tool measured as absent; "-" one the tool cannot
# tell (Debian's stun reports no RFC 4787 mapping for a symmetric NAT,
# turnutils_natdiscovery no classic label).
#
# Every probe is bounded by timeout(1), and its raw output goes to $2.

TN_FIELDS=(status classic mapping filtering hairpinning allocation)

# The cases scripts/testnet.sh and scripts/compare-anchors.sh run: a name,
# the profile with its load_profile options, and the expected six fields
# ("-": not checked; hairpinning means nothing without NAT).
#  case                  profile[:options]            status classic mapping filtering hairpinning allocation
TN_CASES=(
    "public               public                       ok open_internet endpoint_independent endpoint_independent - preserving"
    "udp_blocked          udp_blocked                  udp_blocked udp_blocked null null null null"
    "full_cone            full_cone:hairpin            ok full_cone endpoint_independent endpoint_independent true preserving"
    "restricted_cone      restricted_cone              ok restricted_cone endpoint_independent address_dependent false preserving"
    "port_restricted_cone port_restricted_cone:hairpin ok port_restricted_cone endpoint_independent address_and_port_dependent true preserving"
    "symmetric_random     symmetric_random             ok symmetric address_and_port_dependent address_and_port_dependent false random"
    "symmetric_sequential symmetric_sequential:hairpin ok symmetric address_and_port_dependent address_and_port_dependent true sequential/1"
    "address_dependent    address_dependent            ok symmetric address_dependent address_and_port_dependent false random"
)

# tn_check_case_names NAME...: fails, listing the cases, on an unknown name.
tn_check_case_names() {
    local name names
    names=$(printf '%s\n' "${TN_CASES[@]}" | awk '{ print $1 }')
    for name in "$@"; do
        case $name in punch | trial | relay | ipv6 | ipv6_probe | session | ticket | offline | lifetime | stacked | tcp) continue ;; esac
        grep -qxF "$name" <<<"$names" && continue
        tn_die "unknown case '$name' (cases: ${names//$'\n'/ } punch trial relay ipv6 ipv6_probe session ticket offline lifetime stacked tcp)"
        return 1
    done
}

# tn_probe_ranat ROLE OUT [SERVER]: ranat probe -4 --json against ranat serve,
# its STUN part only; OUT gets the JSON (stdout) and OUT.stderr. Returns
# ranat's exit code.
tn_probe_ranat() {
    _tn_probe_ranat_with "$1" "$2" "${3:-${TN_SERVER_RANAT[0]}:3478}" -4 --no-portmap --no-teredo
}

# tn_probe_ranat_complete ROLE OUT: the complete default probe, nothing
# switched off: the port-mapping check asks the client's own router, Teredo
# qualifies against miredo-server. The same line as tn_probe_ranat.
tn_probe_ranat_complete() {
    _tn_probe_ranat_with "$1" "$2" "${TN_SERVER_RANAT[0]}:3478" --teredo-server "${TN_SERVER_MIREDO[0]}"
}

_tn_probe_ranat_with() {
    local role=$1 out=$2 server=$3 bin rc
    shift 3
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    tn_exec "$role" timeout 60 "$bin" probe --json "$@" --server "$server" >"$out" 2>"$out.stderr"
    rc=$?
    jq -r '.ipv4 | [
            .status, .classic, (.mapping // "null"), (.filtering // "null"),
            (.hairpinning | tostring),
            (if .port_allocation == null then "null"
             elif .port_allocation.kind == "sequential"
             then "sequential/\(.port_allocation.delta)"
             else .port_allocation.kind end)
        ] | join(" ")' "$out" 2>/dev/null || echo "error - - - - -"
    return $rc
}

# tn_probe_lifetime ROLE OUT BOUND: ranat probe -4 --lifetime=BOUND against
# ranat serve; OUT gets the JSON and OUT.stderr (the progress, --verbose).
# Prints the IPv4 binding lifetime as "STATUS ALIVE_S EXPIRED_S".
tn_probe_lifetime() {
    local role=$1 out=$2 bound=$3 bin
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    tn_exec "$role" timeout 120 "$bin" --verbose probe --json -4 --no-portmap --no-teredo \
        --lifetime="$bound" --server "${TN_SERVER_RANAT[0]}:3478" >"$out" 2>"$out.stderr"
    jq -r '.ipv4.binding_lifetime // {} |
        "\(.status // "none") \(.alive_s // "null") \(.expired_s // "null")"' "$out" 2>/dev/null ||
        echo "error null null"
}

# tn_probe_stun ROLE OUT: Debian's stun client (Vovida, RFC 3489) against
# stund. It exits with a bitmask of its findings, so its code means nothing.
tn_probe_stun() {
    local role=$1 out=$2 line
    tn_exec "$role" timeout 30 stun "${TN_SERVER_STUND[0]}" >"$out" 2>&1
    line=$(sed -n 's/^Primary: //p' "$out" | tr -d '\t')
    local status=ok classic=inconclusive mapping=- filtering=- hairpinning=-
    case $line in
        Open*) classic=open_internet mapping=endpoint_independent filtering=endpoint_independent ;;
        "Independent Mapping, Independent Filter"*) classic=full_cone ;;
        "Independent Mapping, Address Dependent Filter"*) classic=restricted_cone ;;
        "Independent Mapping, Port Dependent Filter"*) classic=port_restricted_cone ;;
        "Dependent Mapping"*) classic=symmetric ;;
        Firewall*) classic=symmetric_udp_firewall ;;
        Blocked*) status=udp_blocked classic=udp_blocked mapping=null filtering=null hairpinning=null ;;
    esac
    case $line in
        "Independent Mapping"*) mapping=endpoint_independent ;;
    esac
    case $line in
        *"Independent Filter"*) filtering=endpoint_independent ;;
        *"Address Dependent Filter"*) filtering=address_dependent ;;
        *"Port Dependent Filter"*) filtering=address_and_port_dependent ;;
    esac
    case $line in
        *"will hairpin"*) hairpinning=true ;;
        *"no hairpin"*) hairpinning=false ;;
    esac
    echo "$status $classic $mapping $filtering $hairpinning -"
}

# tn_probe_natdiscovery ROLE OUT: coturn's RFC 5780 client against coturn.
tn_probe_natdiscovery() {
    local role=$1 out=$2
    tn_exec "$role" timeout 60 turnutils_natdiscovery -m -f "${TN_SERVER_COTURN[0]}" >"$out" 2>&1
    local mapping filtering
    mapping=$(_tn_natdiscovery_behaviour Mapping "$out")
    filtering=$(_tn_natdiscovery_behaviour Filtering "$out")
    if [ "$mapping" = null ] && [ "$filtering" = null ]; then
        echo "udp_blocked udp_blocked null null - -"
    else
        echo "ok - $mapping $filtering - -"
    fi
}

_tn_natdiscovery_behaviour() {
    case $(grep -o "NAT with [A-Za-z ]* $1" "$2" | head -n 1) in
        *"Endpoint Independent"*) echo endpoint_independent ;;
        *"Address and Port Dependent"*) echo address_and_port_dependent ;;
        *"Address Dependent"*) echo address_dependent ;;
        *) echo null ;;
    esac
}

# tn_probe_timed TOOL ROLE OUT: one probe with ranat (its STUN part),
# ranat_complete, stun or natdiscovery;
# prints its six fields and its wall time in milliseconds.
tn_probe_timed() {
    local tool=$1 role=$2 out=$3 start line
    start=$(date +%s%N)
    case $tool in
        ranat) line=$(tn_probe_ranat "$role" "$out.json") ;;
        ranat_complete) line=$(tn_probe_ranat_complete "$role" "$out.json") ;;
        stun) line=$(tn_probe_stun "$role" "$out.txt") ;;
        natdiscovery) line=$(tn_probe_natdiscovery "$role" "$out.txt") ;;
        *)
            tn_die "unknown probe tool '$tool'"
            return 1
            ;;
    esac
    echo "$line $((($(date +%s%N) - start) / 1000000))"
}

# tn_compare EXPECTED OBSERVED: prints "field=observed" for each field where
# they differ ("-" on either side matches anything); fails if any differ.
tn_compare() {
    local -a expected observed
    read -r -a expected <<<"$1"
    read -r -a observed <<<"$2"
    local i diffs=()
    for i in "${!TN_FIELDS[@]}"; do
        local e=${expected[i]:--} o=${observed[i]:--}
        [ "$e" = - ] || [ "$o" = - ] || [ "$e" = "$o" ] || diffs+=("${TN_FIELDS[i]}=$o")
    done
    [ ${#diffs[@]} -eq 0 ] && return 0
    echo "${diffs[*]}"
    return 1
}

# A short human form of a six-field line: "port_restricted_cone EI/APD hairpin preserving".
tn_short() {
    local status classic mapping filtering hairpinning allocation
    read -r status classic mapping filtering hairpinning allocation <<<"$1"
    local words=()
    [ "$classic" != - ] && words+=("$classic")
    [ "$status" != ok ] && [ "$status" != "$classic" ] && words+=("($status)")
    if [ "$mapping/$filtering" != null/null ] && [ "$mapping/$filtering" != -/- ]; then
        words+=("$(_tn_abbrev "$mapping")/$(_tn_abbrev "$filtering")")
    fi
    case $hairpinning in
        true) words+=(hairpin) ;;
        false) words+=(no-hairpin) ;;
    esac
    [ "$allocation" != - ] && [ "$allocation" != null ] && words+=("$allocation")
    echo "${words[*]}"
}

_tn_abbrev() {
    case $1 in
        endpoint_independent) echo EI ;;
        address_dependent) echo AD ;;
        address_and_port_dependent) echo APD ;;
        *) echo "$1" ;;
    esac
}
