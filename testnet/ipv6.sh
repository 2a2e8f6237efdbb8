# shellcheck shell=bash
# IPv6 in the test bed (sourced by lib.sh): the routers' IPv6 profiles and
# the checks scripts/testnet.sh runs on them ("--only ipv6").
#
# IPv6 is routed without NAT but for the nptv6 profile (addresses in
# lib.sh): client N holds 2001:db8:N::2, reachable from everywhere unless its
# router's IPv6 profile filters it. Each profile is one table, "ip6 rfw6", in the router's
# namespace, apart from the IPv4 NAT's "inet rnat" (profiles.sh), whose
# chains accept all IPv6 and which load_profile replaces without touching
# "ip6 rfw6". Order when setting both: the IPv4 profile first, then the
# IPv6 one (a ruleset that deleted every table would take "rfw6" along).
#
#   open          forwards everything, both ways
#   firewall_eif  a stateful firewall with endpoint-independent filtering:
#                 the LAN may open any flow; from the WAN, besides answers,
#                 any UDP to an address and port a LAN host has sent from
#                 (a dynamic set learned on outbound packets, checked inbound)
#   firewall_adf  the same with address-dependent filtering: UDP only from an
#                 address that LAN address and port has sent to
#   firewall      the usual home router: the LAN may open any flow, the WAN only
#                 answer one (conntrack "established,related"); that is
#                 address-and-port-dependent filtering (RFC 4787 terms), so two
#                 clients behind it connect by a UDP hole punch
#   nptv6         prefix translation: the LAN prefix 2001:db8:N::/64 leaves as
#                 2001:db8:fN::/64 (tn_ext_net6), host bits and ports kept,
#                 nothing filtered (the LAN prefix itself is not reachable
#                 from the WAN, as if it were not routed there). nftables does it with conntrack NAT
#                 ("snat/dnat ip6 prefix to"), not with RFC 6296's stateless,
#                 checksum-neutral mapping: the same addresses and ports on
#                 the wire, but kept per flow, and an inbound packet to the
#                 external prefix is translated in whatever flow it opens
#   udp_blocked   forwards IPv6, but no UDP (ping and TCP pass)
#   blocked       forwards no IPv6 at all; the client keeps its address and
#                 route, so its packets vanish at the router
#   none          no IPv6 on the LAN: as blocked, and the client has neither
#                 a global IPv6 address nor an IPv6 route (as if no router
#                 advertisement ever came); every other profile gives both back
#
# In every profile the router itself answers ICMPv6 (neighbour discovery,
# ping) and drops other new traffic from the WAN addressed to itself.

TN_IPV6_PROFILES=(open firewall_eif firewall_adf firewall nptv6 udp_blocked blocked none)
# What tn_up loads: no IPv6 forwarded, so that the IPv4 cases (the trial's
# matrix among them) test IPv4 although every client has an IPv6 address;
# the IPv6 cases load the realistic home router (firewall) themselves.
TN_IPV6_PROFILE_DEFAULT=blocked
# How long a learned filtering permission (firewall_eif, firewall_adf)
# lives without traffic: as long as conntrack's UDP stream timeout.
TN_IPV6_LEARNED_TIMEOUT=120

# Router N's external IPv6 prefix under nptv6, and client N's address in it.
tn_ext_net6() { echo "2001:db8:f$(tn_router_index "$1")::/64"; }
tn_client_ext_ip6() { echo "2001:db8:f$(tn_router_index "$1")::2"; }

# Each _tn_ipv6_profile_NAME sets the caller's locals policy (the forward
# chain's), fwd (its rules), and where needed learned (the type of the set
# "learned6" of filtering permissions) and nat (NAT chains).
_tn_ipv6_profile_open() { policy=accept; }
_tn_ipv6_profile_firewall_eif() {
    policy=drop
    learned='ipv6_addr . inet_service'
    fwd='ct state established,related accept
        ct state invalid drop
        iifname "lan" oifname "wan" meta l4proto udp update @learned6 { ip6 saddr . udp sport }
        iifname "lan" oifname "wan" accept
        iifname "wan" meta l4proto udp ip6 daddr . udp dport @learned6 accept'
}
_tn_ipv6_profile_firewall_adf() {
    policy=drop
    learned='ipv6_addr . inet_service . ipv6_addr'
    fwd='ct state established,related accept
        ct state invalid drop
        iifname "lan" oifname "wan" meta l4proto udp update @learned6 { ip6 saddr . udp sport . ip6 daddr }
        iifname "lan" oifname "wan" accept
        iifname "wan" meta l4proto udp ip6 daddr . udp dport . ip6 saddr @learned6 accept'
}
_tn_ipv6_profile_firewall() {
    policy=drop
    fwd='ct state established,related accept
        ct state invalid drop
        iifname "lan" oifname "wan" accept'
}
_tn_ipv6_profile_nptv6() {
    policy=accept
    # The LAN prefix is internal: from the WAN only what was translated
    # (answers to the LAN's flows, or packets to the external prefix).
    fwd='iifname "wan" ct status snat accept
        iifname "wan" ct status dnat accept
        iifname "wan" drop'
    nat="chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname \"wan\" ip6 daddr $(tn_ext_net6 "$router") dnat ip6 prefix to $(tn_lan_net6 "$router")
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname \"wan\" ip6 saddr $(tn_lan_net6 "$router") snat ip6 prefix to $(tn_ext_net6 "$router")
    }"
}
_tn_ipv6_profile_udp_blocked() {
    policy=accept
    fwd='meta l4proto udp drop'
}
_tn_ipv6_profile_blocked() { policy=drop; }
_tn_ipv6_profile_none() { policy=drop; }

# load_ipv6_profile ROUTER PROFILE: replaces the router's IPv6 profile and
# forgets its IPv6 conntrack state (the IPv4 mappings are left alone).
load_ipv6_profile() {
    if [ $# -ne 2 ]; then
        tn_die "usage: load_ipv6_profile ROUTER PROFILE (one of: ${TN_IPV6_PROFILES[*]})"
        return 1
    fi
    local router=$1 profile=$2 ns policy='' fwd='' learned='' nat='' sets=''
    if ! declare -F "_tn_ipv6_profile_$profile" >/dev/null; then
        tn_die "load_ipv6_profile: unknown profile '$profile' (one of: ${TN_IPV6_PROFILES[*]})"
        return 1
    fi
    tn_router_index "$router" >/dev/null || return 1
    ns=$(tn_ns "$router")
    "_tn_ipv6_profile_$profile"
    [ -n "$learned" ] && sets="set learned6 {
        type $learned
        flags dynamic,timeout
        timeout ${TN_IPV6_LEARNED_TIMEOUT}s
    }"
    _tn_ipv6_client_setup "$router" "$profile" || return 1
    ip netns exec "$ns" nft -f - <<RULES || { tn_die "load_ipv6_profile: nft rejected $profile on $router"; return 1; }
table ip6 rfw6
delete table ip6 rfw6
table ip6 rfw6 {
    $sets
    chain forward {
        type filter hook forward priority filter; policy $policy;
        $fwd
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" meta l4proto ipv6-icmp accept
        iifname "wan" drop
    }
    $nat
}
RULES
    ip netns exec "$ns" conntrack -F -f ipv6 >/dev/null 2>&1 || true
    echo "$profile" >"$TN_DIR/profile6-$router"
}

# _tn_ipv6_client_setup ROUTER PROFILE: the client behind ROUTER holds its
# IPv6 address and default route unless the profile is "none"; the servers
# and the other routers route the router's external prefix (nptv6) to it.
_tn_ipv6_client_setup() {
    local router=$1 profile=$2 client other
    client=$(tn_client_of "$router") || return 1
    if [ "$profile" = none ]; then
        ip -n "$(tn_ns "$client")" -6 route del default 2>/dev/null
        ip -n "$(tn_ns "$client")" -6 addr del "$(tn_client_ip6 "$router")/64" dev eth0 2>/dev/null
        return 0
    fi
    ip -n "$(tn_ns "$client")" -6 addr replace "$(tn_client_ip6 "$router")/64" dev eth0 nodad || return 1
    ip -n "$(tn_ns "$client")" -6 route replace default via "$(tn_router_lan_ip6 "$router")" dev eth0 || return 1
    ip -n "$(tn_ns srv)" -6 route replace "$(tn_ext_net6 "$router")" via "$(tn_wan_ip6 "$router")" dev eth0 || return 1
    for other in "${TN_ROUTERS[@]}"; do
        [ "$other" = "$router" ] && continue
        ip -n "$(tn_ns "$other")" -6 route replace "$(tn_ext_net6 "$router")" via "$(tn_wan_ip6 "$router")" dev wan || return 1
    done
}

# --- servers ----------------------------------------------------------------
# The servers on IPv6, beside their IPv4 selves (tn_start_ranat_serve and
# tn_start_coturn call these). Debian's stund (Vovida 0.97) has none: its
# addresses are 32-bit integers throughout (-h takes an IPv4 address or a
# name it resolves with gethostbyname), so it stays IPv4 only.

# ranat serve's STUN service, RFC 5780 four endpoints (2001:db8:100::10 and
# ::11, ports 3478 and 3479), as a process of its own: --primary takes one
# address. No rendezvous and no relay: the IPv4 instance has them.
tn_start_ranat_serve6() {
    local bin
    bin=$(tn_ranat_bin) || return 1
    tn_spawn ranat-serve6 srv "$bin" serve --primary "${TN_SERVER6_RANAT[0]}" \
        --alternate "${TN_SERVER6_RANAT[1]}" --no-rendezvous || return 1
    tn_wait_udp srv ranat-serve6 5 "[${TN_SERVER6_RANAT[0]}]:3478" "[${TN_SERVER6_RANAT[0]}]:3479" \
        "[${TN_SERVER6_RANAT[1]}]:3478" "[${TN_SERVER6_RANAT[1]}]:3479"
}

# --- checks -----------------------------------------------------------------
# Small and bounded: ping -6 -c1 -W1, and socat for single UDP datagrams.
# Each check prints one line per step ("ok: ..." or "WRONG: ...") and fails
# when any step saw other than it expected.

# The address traffic to ROLE goes to (IPv6, or IPv4 with a second argument
# 4): a client's, or the servers' first.
_tn_ip_of() {
    case $1/${2:-6} in
        c[0-9]*/6) tn_client_ip6 "r${1#c}" ;;
        c[0-9]*/4) tn_client_ip "r${1#c}" ;;
        srv/6) echo "${TN_SERVER6_RANAT[0]}" ;;
        srv/4) echo "${TN_SERVER_RANAT[0]}" ;;
        *) tn_die "no address for '$1'"; return 1 ;;
    esac
}

# tn_ipv6_forget: both routers forget their IPv6 conntrack state and learned
# filtering permissions, so that a check meets holes only it has punched.
tn_ipv6_forget() {
    local r
    for r in "${TN_ROUTERS[@]}"; do
        tn_exec "$r" conntrack -F -f ipv6 >/dev/null 2>&1 || true
        tn_exec "$r" nft flush set ip6 rfw6 learned6 2>/dev/null || true
    done
}

# _tn_udp6_listen ROLE PORT SECONDS OUT: in the background, the first UDP
# datagram (IPv6, or IPv4 as a mapped address) to port PORT in ROLE goes to
# OUT (nothing if none comes within SECONDS). Returns once the socket is
# bound; its pid is in TN_UDP6_LISTENER.
_tn_udp6_listen() {
    local role=$1 port=$2 seconds=$3 out=$4 i
    tn_exec "$role" timeout "$seconds" socat -u "UDP6-RECVFROM:$port,reuseaddr" STDOUT \
        >"$out" 2>"$out.stderr" &
    TN_UDP6_LISTENER=$!
    for ((i = 0; i < 40; i++)); do
        tn_exec "$role" ss -Hlnu "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    tn_log "no socket on UDP port $port in $role after 2 s"
    return 1
}

# _tn_udp_send ROLE SPORT TO DPORT TEXT [FAMILY]: one datagram from ROLE's
# port SPORT to TO's (a role) address, port DPORT; over IPv6 unless FAMILY
# is 4.
_tn_udp_send() {
    local role=$1 sport=$2 to=$3 dport=$4 text=$5 family=${6:-6} address target
    address=$(_tn_ip_of "$to" "$family") || return 1
    target="UDP6-SENDTO:[$address]:$dport"
    [ "$family" = 4 ] && target="UDP4-SENDTO:$address:$dport"
    tn_exec "$role" timeout 2 socat -u STDIN "$target,sourceport=$sport,reuseaddr" <<<"$text"
}

# _tn_udp_crosses FROM SPORT TO DPORT SECONDS [FAMILY]: whether one datagram
# from FROM:SPORT reaches a socket listening on TO:DPORT within SECONDS.
_tn_udp_crosses() {
    local from=$1 sport=$2 to=$3 dport=$4 seconds=$5 family=${6:-6} file text
    file=$TN_DIR/run/udp$family-$from-$sport-$to-$dport
    text="udp$family $from:$sport -> $to:$dport $RANDOM"
    _tn_udp6_listen "$to" "$dport" "$seconds" "$file" || return 2
    _tn_udp_send "$from" "$sport" "$to" "$dport" "$text" "$family" || { wait "$TN_UDP6_LISTENER"; return 2; }
    wait "$TN_UDP6_LISTENER"
    grep -qxF "$text" "$file"
}

# _tn_step WANT WHAT CMD...: runs CMD (true: the traffic got through) and
# prints whether it did as WANT (passes / dropped) says.
_tn_step() {
    local want=$1 what=$2 got
    shift 2
    "$@"
    case $? in
        0) got=passes ;;
        1) got=dropped ;;
        3) got='passes one way only' ;;
        *) got=error ;;
    esac
    if [ "$got" = "$want" ]; then
        echo "ok: $what: $got"
    else
        echo "WRONG: $what: $got (want: $want)"
        return 1
    fi
}

# Positive steps wait up to 3 s for their datagram or ping answer (it comes
# in a millisecond), negative ones 0.5 s for one that should never come.
_tn_udp6_step() {
    local want=$1 from=$2 sport=$3 to=$4 dport=$5 family=${6:-6} seconds=0.5
    [ "$want" = passes ] && seconds=3
    _tn_step "$want" "UDP over IPv$family $(_tn_ip_of "$from" "$family"):$sport ($from) -> $(_tn_ip_of "$to" "$family"):$dport ($to)" \
        _tn_udp_crosses "$from" "$sport" "$to" "$dport" "$seconds" "$family"
}

_tn_ping6_step() {
    local want=$1 from=$2 to=$3 seconds=0.5
    [ "$want" = passes ] && seconds=3
    _tn_step "$want" "ping -6 $from -> $to" _tn_ping6 "$from" "$to" "$seconds"
}
_tn_ping6() {
    tn_exec "$1" timeout 5 ping -6 -n -q -c1 -W "$3" "$2" >/dev/null 2>&1
}

# _tn_udp6_punch ROLE1 PORT1 ROLE2 PORT2: a simultaneous punch: both sides
# send a datagram every 0.1 s for 1 s from their port to the other's while
# reading what arrives (and 0.5 s more); prints how much each received. Returns 0 when both
# received something from the other, 1 when neither did, 3 when one did.
_tn_udp6_punch() {
    local r1=$1 p1=$2 r2=$3 p2=$4 pid1 pid2 n1 n2 base=$TN_DIR/run/ipv6-punch
    _tn_udp6_punch_side "$r1" "$p1" "$r2" "$p2" >"$base-$r1" 2>"$base-$r1.stderr" &
    pid1=$!
    _tn_udp6_punch_side "$r2" "$p2" "$r1" "$p1" >"$base-$r2" 2>"$base-$r2.stderr" &
    pid2=$!
    wait "$pid1" "$pid2"
    n1=$(grep -c "^from $r2 " "$base-$r1")
    n2=$(grep -c "^from $r1 " "$base-$r2")
    echo "   ($r1 got $n1 of $r2's 10 datagrams, $r2 got $n2 of $r1's)"
    if [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]; then
        return 0
    elif [ "$n1" -eq 0 ] && [ "$n2" -eq 0 ]; then
        return 1
    fi
    return 3
}
_tn_udp6_punch_side() {
    local role=$1 port=$2 peer=$3 peer_port=$4 address i
    address=$(_tn_ip_of "$peer") || return 1
    for ((i = 1; i <= 10; i++)); do
        echo "from $role $i"
        sleep 0.1
    done | tn_exec "$role" timeout 4 socat -t 0.5 - \
        "UDP6-DATAGRAM:[$address]:$peer_port,bind=[::]:$port,reuseaddr"
}

# The checks scripts/testnet.sh runs ("--only ipv6"), each under the
# routers' IPv6 profiles its comment names (the caller loads them); each
# check but "reach" first makes the routers forget their IPv6 state.

# Any profile but blocked: both clients reach the servers over IPv6.
tn_ipv6_check_reach() {
    local ok=0 role
    for role in c1 c2; do
        _tn_ping6_step passes "$role" "${TN_SERVER6_RANAT[0]}" || ok=1
        _tn_ping6_step passes "$role" "${TN_SERVER6_COTURN[1]}" || ok=1
    done
    return $ok
}

# r1 "firewall" behind the IPv4 profile udp_blocked: the NAT profile drops
# IPv4 UDP and leaves IPv6 to the IPv6 profile, which lets c1's flow out.
tn_ipv6_check_beside_ipv4() {
    local ok=0
    tn_ipv6_forget
    _tn_udp6_step dropped c1 5009 srv 7009 4 || ok=1
    _tn_udp6_step passes c1 5009 srv 7009 || ok=1
    return $ok
}

# r1 "firewall": nothing unsolicited reaches c1, neither from a server nor
# from c2 (whose own router lets it out).
tn_ipv6_check_unsolicited() {
    local ok=0
    tn_ipv6_forget
    _tn_udp6_step dropped srv 7001 c1 5001 || ok=1
    _tn_udp6_step dropped c2 6001 c1 5001 || ok=1
    _tn_ping6_step dropped srv "$(tn_client_ip6 r1)" || ok=1
    return $ok
}

# r1 and r2 "firewall", the punch in order: c1's first datagram opens r1 but
# is dropped by r2; c2's, sent back to that port, then crosses r1, and c1's
# next one crosses r2. The hole admits only that peer's address and port
# (address-and-port-dependent filtering).
tn_ipv6_check_punch() {
    local ok=0
    tn_ipv6_forget
    _tn_udp6_step dropped c1 5002 c2 6002 || ok=1
    _tn_udp6_step passes c2 6002 c1 5002 || ok=1
    _tn_udp6_step passes c1 5002 c2 6002 || ok=1
    _tn_udp6_step dropped c2 6003 c1 5002 || ok=1
    _tn_udp6_step dropped srv 6002 c1 5002 || ok=1
    return $ok
}

# r1 and r2 "firewall" (or WANT=dropped: "blocked"): both sides sending at
# once, as the session's punch does.
tn_ipv6_check_simultaneous() {
    tn_ipv6_forget
    _tn_step "${1:-passes}" "simultaneous punch [$(tn_client_ip6 r1)]:5003 <-> [$(tn_client_ip6 r2)]:6004" \
        _tn_udp6_punch c1 5003 c2 6004
}

# r1 "open", r2 "firewall": c1 takes anything, c2 still nothing unsolicited.
tn_ipv6_check_open() {
    local ok=0
    tn_ipv6_forget
    _tn_udp6_step passes srv 7005 c1 5005 || ok=1
    _tn_udp6_step passes c2 6005 c1 5006 || ok=1
    _tn_ping6_step passes srv "$(tn_client_ip6 r1)" || ok=1
    _tn_udp6_step dropped c1 5007 c2 6007 || ok=1
    return $ok
}

# r1 and r2 "blocked": no IPv6 crosses either router, while each router
# itself still answers its client.
tn_ipv6_check_blocked() {
    local ok=0
    tn_ipv6_forget
    _tn_ping6_step passes c1 "$(tn_router_lan_ip6 r1)" || ok=1
    _tn_ping6_step dropped c1 "${TN_SERVER6_RANAT[0]}" || ok=1
    _tn_ping6_step dropped c2 "${TN_SERVER6_RANAT[0]}" || ok=1
    tn_ipv6_check_simultaneous dropped || ok=1
    _tn_udp6_step dropped srv 7008 c1 5008 || ok=1
    return $ok
}

# --- ranat on IPv6 ("--only ipv6_probe") ------------------------------------

# ranat probe -6 behind each IPv6 profile of r1: the expected status, classic
# label, mapping, filtering, and the address the server saw (own: the
# client's, ext: its address under the nptv6 prefix, null: none).
#  profile      status      classic                mapping              filtering                  mapped
TN_IPV6_PROBE_CASES=(
    "open         ok          open_internet          endpoint_independent endpoint_independent       own"
    "firewall_eif ok          open_internet          endpoint_independent endpoint_independent       own"
    "firewall_adf ok          symmetric_udp_firewall endpoint_independent address_dependent          own"
    "firewall     ok          symmetric_udp_firewall endpoint_independent address_and_port_dependent own"
    "nptv6        ok          full_cone              endpoint_independent endpoint_independent       ext"
    "udp_blocked  udp_blocked udp_blocked            null                 null                       null"
    "blocked      udp_blocked udp_blocked            null                 null                       null"
    "none         unavailable inconclusive           null                 null                       null"
)

# Pairs of IPv6 profiles (r1, r2) for a live trial with both IPv4 NATs
# symmetric (random), where the IPv4 punch fails: the IPv6 method's
# prediction (works / fails) must match the path the session took (a
# direct IPv6 path / the relay).
TN_IPV6_TRIAL_PAIRS=(
    "firewall firewall"
    "firewall_eif firewall"
    "firewall_adf firewall_adf"
    "open firewall"
    "nptv6 open"
    "nptv6 firewall"
    "udp_blocked firewall"
    "blocked firewall"
    "none open"
)

# tn_ipv6_probe ROLE SERVER OUT: ranat probe -6 --json against SERVER
# ("[address]:port"); prints "status classic mapping filtering mapped"
# (mapped as own / ext / null / the address itself), then ranat's exit code.
tn_ipv6_probe() {
    local role=$1 server=$2 out=$3 bin rc router line mapped
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    router=r${role#c}
    tn_exec "$role" timeout 30 "$bin" probe -6 --json --no-hairpin --server "$server" >"$out" 2>"$out.stderr"
    rc=$?
    line=$(jq -r '.ipv6 | [.status, .classic, (.mapping // "null"), (.filtering // "null"),
        (.mapped_address // "null")] | join(" ")' "$out" 2>/dev/null) || line="error - - - null"
    mapped=${line##* }
    case $mapped in
        "[$(tn_client_ip6 "$router")]:"*) mapped=own ;;
        "[$(tn_client_ext_ip6 "$router")]:"*) mapped=ext ;;
    esac
    echo "${line% *} $mapped $rc"
}

# tn_ipv6_dual_probe ROLE OUT: one dual-stack probe (ranat serve on both
# families); prints "verdict exit v4 status classic mapping filtering v6
# status classic mapping filtering".
tn_ipv6_dual_probe() {
    local role=$1 out=$2 bin rc
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    tn_exec "$role" timeout 30 "$bin" probe --json --no-portmap --no-teredo --no-hairpin \
        --server "${TN_SERVER_RANAT[0]}:3478" --server "[${TN_SERVER6_RANAT[0]}]:3478" >"$out" 2>"$out.stderr"
    rc=$?
    jq -r --arg rc "$rc" 'def f: [.status, .classic, (.mapping // "null"), (.filtering // "null")] | join(" ");
        "\(.verdict) \($rc) v4 \(.ipv4 | f) v6 \(.ipv6 | f)"' "$out" 2>/dev/null || echo "error $rc"
}

# tn_ipv6_trial P1 P2 OUT: a trial between c1 and c2 behind symmetric
# (random) IPv4 NATs and IPv6 profiles P1, P2, both probing IPv6 as well;
# prints "ipv6-prediction expected outcome1 outcome2 family1 family2 agrees".
tn_ipv6_trial() {
    local p1=$1 p2=$2 out=$3 result e o1 o2 f1 f2 six agrees
    { load_ipv6_profile r1 "$p1" && load_ipv6_profile r2 "$p2"; } || return 1
    result=$(TN_TRIAL_IPV6=yes tn_trial symmetric_random symmetric_random "$out")
    read -r e o1 o2 _ <<<"$result"
    f1=$(_tn_trial_field "$out-c1.json" .path.family -)
    f2=$(_tn_trial_field "$out-c2.json" .path.family -)
    six=$(jq -r '.prediction.methods[] | select(.method == "ipv6") | .feasibility' "$out-c2.json" 2>/dev/null)
    agrees=$(jq -r '.agrees' "$out-c2.json" 2>/dev/null)
    echo "${six:-error} $e $o1 $o2 $f1 $f2 ${agrees:-error}"
}

# tn_ipv6_trial_agrees "ipv6-prediction expected outcome1 outcome2 family1
# family2 agrees": IPv6 predicted to work and both sides on a direct IPv6
# path, or predicted to fail and both relayed; the session's own
# expectation agreeing too.
tn_ipv6_trial_agrees() {
    case $(tr ' ' / <<<"$1") in
        works/connects/direct/direct/IPv6/IPv6/true | fails/fails/relayed/relayed/IPv4/IPv4/true) return 0 ;;
    esac
    return 1
}
