# shellcheck shell=bash
# IPv6 in the test bed (sourced by lib.sh): the routers' IPv6 profiles and
# the checks scripts/testnet.sh runs on them ("--only ipv6").
#
# IPv6 is routed without NAT (addresses in lib.sh): client N holds
# 2001:db8:N::2, reachable from everywhere unless its router's IPv6 profile
# filters it. Each profile is one table, "ip6 rfw6", in the router's
# namespace, apart from the IPv4 NAT's "inet rnat" (profiles.sh), whose
# chains accept all IPv6 and which load_profile replaces without touching
# "ip6 rfw6". Order when setting both: the IPv4 profile first, then the
# IPv6 one (a ruleset that deleted every table would take "rfw6" along).
#
#   open      forwards everything, both ways
#   firewall  the usual home router: the LAN may open any flow, the WAN only
#             answer one (conntrack "established,related"); that is
#             address-and-port-dependent filtering (RFC 4787 terms), so two
#             clients behind it connect by a UDP hole punch
#   blocked   forwards no IPv6 at all
#
# In every profile the router itself answers ICMPv6 (neighbour discovery,
# ping) and drops other new traffic from the WAN addressed to itself.

TN_IPV6_PROFILES=(open firewall blocked)
# What tn_up loads: no IPv6 forwarded, so that the IPv4 cases (the trial's
# matrix among them) test IPv4 although every client has an IPv6 address;
# the IPv6 cases load the realistic home router (firewall) themselves.
TN_IPV6_PROFILE_DEFAULT=blocked

# Each _tn_ipv6_profile_NAME sets the caller's locals policy (the forward
# chain's) and fwd (its rules).
_tn_ipv6_profile_open() { policy=accept; }
_tn_ipv6_profile_firewall() {
    policy=drop
    fwd='ct state established,related accept
        ct state invalid drop
        iifname "lan" oifname "wan" accept'
}
_tn_ipv6_profile_blocked() { policy=drop; }

# load_ipv6_profile ROUTER PROFILE: replaces the router's IPv6 profile and
# forgets its IPv6 conntrack state (the IPv4 mappings are left alone).
load_ipv6_profile() {
    if [ $# -ne 2 ]; then
        tn_die "usage: load_ipv6_profile ROUTER PROFILE (one of: ${TN_IPV6_PROFILES[*]})"
        return 1
    fi
    local router=$1 profile=$2 ns policy='' fwd=''
    if ! declare -F "_tn_ipv6_profile_$profile" >/dev/null; then
        tn_die "load_ipv6_profile: unknown profile '$profile' (one of: ${TN_IPV6_PROFILES[*]})"
        return 1
    fi
    tn_router_index "$router" >/dev/null || return 1
    ns=$(tn_ns "$router")
    "_tn_ipv6_profile_$profile"
    ip netns exec "$ns" nft -f - <<EOF || { tn_die "load_ipv6_profile: nft rejected $profile on $router"; return 1; }
table ip6 rfw6
delete table ip6 rfw6
table ip6 rfw6 {
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
}
EOF
    ip netns exec "$ns" conntrack -F -f ipv6 >/dev/null 2>&1 || true
    echo "$profile" >"$TN_DIR/profile6-$router"
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

# tn_ipv6_forget: both routers forget their IPv6 conntrack state, so that a
# check meets holes only it has punched.
tn_ipv6_forget() {
    local r
    for r in "${TN_ROUTERS[@]}"; do
        tn_exec "$r" conntrack -F -f ipv6 >/dev/null 2>&1 || true
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
