# shellcheck shell=bash
# NAT profiles for the test bed's routers, as nftables rulesets (sourced by
# lib.sh). Every profile is one table, "inet rnat", in the router's namespace.
# The table is the same for all profiles but for three places a profile fills:
#
#   nat_in   DNAT rules for packets from the WAN to the router's own address
#   nat_out  SNAT rules for packets leaving by the WAN
#   fwd      forward rules evaluated before the common ones
#
# What plain conntrack NAT gives (see testnet-facts.md):
#   snat to one address         endpoint-independent mapping, port preserved,
#                               address-and-port-dependent filtering
#   snat ... fully-random       address-and-port-dependent mapping, random ports
#   snat to a port from a map   numgen inc -> sequential ports (delta 1);
#                               jhash(src, sport, dst) -> address-dependent mapping
# Conntrack alone admits only exact replies, so endpoint-independent and
# address-dependent filtering need more: chain "learn" records, after SNAT,
# mapped port -> internal endpoint (map "learned") and remote address . mapped
# port (set "peers"); nat_in then DNATs unsolicited packets through "learned",
# for the restricted cone only when "peers" holds the sender's address.
#
# The table is IPv4's only: its forward and input chains accept every IPv6
# packet, which the router's IPv6 profile (table "ip6 rfw6", testnet/ipv6.sh)
# filters on its own; loading a NAT profile leaves that table alone.
#
# Two rules hold for every profile:
# - The input chain drops new flows from the WAN. If an unsolicited packet to
#   a mapped port were accepted by the router itself, its conntrack entry
#   would be confirmed, and the client's later flow to that peer would get
#   another port: that fakes symmetric behaviour.
# - Hairpinning (option "hairpin"): a LAN packet to the public address is
#   DNATed through "learned" and SNATed to the public address (RFC 4787 §6).

TN_PROFILES=(public udp_blocked full_cone restricted_cone port_restricted_cone
    symmetric_random symmetric_sequential address_dependent)

# Each _tn_profile_NAME sets the caller's locals nat_in, nat_out and fwd; the
# router's public address is in $pub.

# No NAT: the client gets a routed public address and nothing is filtered.
_tn_profile_public() { fwd='accept'; }

# A NAT whose router drops all UDP it would forward.
_tn_profile_udp_blocked() {
    nat_out="snat ip to $pub"
    fwd='meta l4proto udp drop'
}

# Endpoint-independent mapping and filtering.
_tn_profile_full_cone() {
    nat_out="snat ip to $pub"
    nat_in='udp dport @learned dnat ip to udp dport map @learned'
}

# Endpoint-independent mapping, address-dependent filtering.
_tn_profile_restricted_cone() {
    nat_out="snat ip to $pub"
    nat_in='ip saddr . udp dport @peers udp dport @learned dnat ip to udp dport map @learned'
}

# Endpoint-independent mapping, address-and-port-dependent filtering.
_tn_profile_port_restricted_cone() { nat_out="snat ip to $pub"; }

# A new random port for every destination address and port.
_tn_profile_symmetric_random() { nat_out="snat ip to $pub fully-random"; }

# A new port for every destination address and port, counting up by one.
_tn_profile_symmetric_sequential() {
    nat_out="meta l4proto udp snat ip to $pub : numgen inc mod $TN_NAT_PORT_COUNT map @ports
        snat ip to $pub"
}

# A new port for every destination address (address-dependent mapping).
_tn_profile_address_dependent() {
    nat_out="meta l4proto udp snat ip to $pub : jhash ip saddr . udp sport . ip daddr mod $TN_NAT_PORT_COUNT map @ports
        snat ip to $pub"
}

# load_profile ROUTER PROFILE [hairpin[=on|off]] [lifetime=SECONDS]
#
# ROUTER is r1 or r2, or the outer NAT o1 or o2 in front of one (tn_stack),
# which takes every profile but "public".
#
# Replaces the router's NAT with PROFILE, forgets every mapping (conntrack and
# learned maps) and, for "public", gives the client a routed public address.
# lifetime sets the router's conntrack UDP timeouts (both the one-packet and
# the stream timeout), i.e. how long an idle mapping lives; by default the
# kernel's 30 s / 120 s. Load the profile before starting miniupnpd on it.
load_profile() {
    if [ $# -lt 2 ]; then
        tn_die "usage: load_profile ROUTER PROFILE [hairpin[=on|off]] [lifetime=SECONDS]"
        return 1
    fi
    local router=$1 profile=$2 hairpin=off lifetime='' option
    shift 2
    for option in "$@"; do
        case $option in
            hairpin | hairpin=on) hairpin=on ;;
            hairpin=off) hairpin=off ;;
            lifetime=*) lifetime=${option#lifetime=} ;;
            *)
                tn_die "load_profile: unknown option '$option'"
                return 1
                ;;
        esac
    done
    if ! declare -F "_tn_profile_$profile" >/dev/null; then
        tn_die "load_profile: unknown profile '$profile' (one of: ${TN_PROFILES[*]})"
        return 1
    fi
    if [ "$profile" = public ] && { tn_is_outer "$router" || [ -n "$(tn_stack_kind "$router")" ]; }; then
        tn_die "load_profile: no profile public on $router, an outer NAT or a router behind one"
        return 1
    fi
    if [ -n "$lifetime" ] && ! [[ $lifetime =~ ^[1-9][0-9]*$ ]]; then
        tn_die "load_profile: lifetime must be a number of seconds, not '$lifetime'"
        return 1
    fi
    local ns pub udp_timeout stream_timeout
    ns=$(tn_ns "$router")
    pub=$(tn_wan_ip "$router") || return 1
    udp_timeout=${lifetime:-$TN_UDP_TIMEOUT_DEFAULT}
    stream_timeout=${lifetime:-$TN_UDP_TIMEOUT_STREAM_DEFAULT}

    local nat_in='' nat_out='' fwd='' hairpin_in='' hairpin_out='' upstream_stun=''
    "_tn_profile_$profile"
    # An outer NAT passes the answers of miniupnpd's own STUN server on to
    # the router behind it (whose input chain admits them, rule "upnp-stun"):
    # miniupnpd there then finds a "full-cone 1:1" NAT and makes mappings,
    # as a home router behind a carrier's NAT does. No client uses that
    # server, so no probe sees this exception.
    if tn_is_outer "$router"; then
        upstream_stun="ip saddr { ${TN_SERVER_UPNP_STUN[0]}, ${TN_SERVER_UPNP_STUN[1]} } udp sport { 3478, 3479 } dnat ip to $(tn_wan_ip "r${router#o}") comment \"upnp-stun\""
    fi
    if [ "$hairpin" = on ]; then
        hairpin_in="iifname \"lan\" ip daddr $pub udp dport @learned dnat ip to udp dport map @learned"
        hairpin_out="iifname \"lan\" oifname \"lan\" ct status dnat snat ip to $pub"
    fi

    ip netns exec "$ns" sysctl -qw \
        "net.netfilter.nf_conntrack_udp_timeout=$udp_timeout" \
        "net.netfilter.nf_conntrack_udp_timeout_stream=$stream_timeout" || return 1
    {
        printf 'table inet rnat\ndelete table inet rnat\n'
        _tn_ruleset
        case $profile in
            symmetric_sequential | address_dependent) _tn_port_elements ;;
        esac
    } | ip netns exec "$ns" nft -f - || {
        tn_die "load_profile: nft rejected profile $profile on $router"
        return 1
    }
    if ! tn_is_outer "$router"; then
        _tn_client_addressing "$router" "$profile" || return 1
    fi
    tn_reset_nat "$router" || return 1
    local description=$profile
    [ "$hairpin" = on ] && description+=" hairpin"
    [ -n "$lifetime" ] && description+=" lifetime=$lifetime"
    echo "$description" >"$TN_DIR/profile-$router"
}

# Forgets every mapping on a router: conntrack entries and learned maps.
tn_reset_nat() {
    local ns
    ns=$(tn_ns "$1")
    ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || true
    ip netns exec "$ns" nft 'flush map inet rnat learned; flush set inet rnat peers'
}

# The whole table; reads nat_in, nat_out, fwd, hairpin_in, hairpin_out,
# upstream_stun, pub and stream_timeout from load_profile. An outer NAT
# (tn_stack) loads the same table: its links are named "wan" and "lan" too.
_tn_ruleset() {
    cat <<EOF
table inet rnat {
    map learned {
        type inet_service : ipv4_addr . inet_service
        flags dynamic,timeout
        timeout ${stream_timeout}s
    }
    set peers {
        type ipv4_addr . inet_service
        flags dynamic,timeout
        timeout ${stream_timeout}s
    }
    map ports {
        typeof numgen inc mod $TN_NAT_PORT_COUNT : udp sport
    }

    # Filled by miniupnpd (upnp_*_chain options in its config).
    chain miniupnpd {
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }

    chain nat_in {
        $upstream_stun
        $nat_in
    }
    chain nat_out {
        $nat_out
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        jump prerouting_miniupnpd
        iifname "wan" ip daddr $pub jump nat_in
        $hairpin_in
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        jump postrouting_miniupnpd
        oifname "wan" jump nat_out
        $hairpin_out
    }
    # After SNAT: what each mapping is, for full/restricted cone and hairpinning.
    # "update" only refreshes an existing element's timeout, so a new flow
    # first deletes what a stale mapping of the same port may have left.
    chain learn {
        type filter hook postrouting priority srcnat + 10; policy accept;
        oifname != "wan" accept
        ct direction != original accept
        ct status snat ct state new delete @learned { udp sport : ct original ip saddr . ct original proto-src }
        ct status snat update @learned { udp sport : ct original ip saddr . ct original proto-src } update @peers { ip daddr . udp sport }
    }

    # IPv6 is not this table's business: the router's own "ip6 rfw6" table
    # (testnet/ipv6.sh) filters it. A drop here would be final for it too.
    chain forward {
        type filter hook forward priority filter; policy drop;
        meta nfproto ipv6 accept
        $fwd
        ct state established,related accept
        iifname "lan" accept
        jump miniupnpd
        iifname "wan" ct status dnat accept
    }
    chain input {
        type filter hook input priority filter; policy accept;
        meta nfproto ipv6 accept
        iifname "wan" ct state established,related accept
        # miniupnpd's own STUN server, which no client uses.
        iifname "wan" ip saddr { ${TN_SERVER_UPNP_STUN[0]}, ${TN_SERVER_UPNP_STUN[1]} } udp sport { 3478, 3479 } accept comment "upnp-stun"
        iifname "wan" drop
    }
}
EOF
}

# The elements of map "ports": counter or hash value N -> port 20000 + N.
_tn_port_elements() {
    awk -v n="$TN_NAT_PORT_COUNT" -v base="$TN_NAT_PORT_BASE" 'BEGIN {
        printf "add element inet rnat ports {"
        for (i = 0; i < n; i++) printf "%s %d : %d", (i ? "," : ""), i, base + i
        print " }"
    }'
}

# "public" gives the client a routed public address instead of its LAN one;
# every other profile puts the LAN address back.
_tn_client_addressing() {
    local router=$1 profile=$2 n base client router_ns client_ns
    n=$(tn_router_index "$router")
    base=$(tn_public_net_base "$router")
    client=$(tn_client_of "$router")
    router_ns=$(tn_ns "$router")
    client_ns=$(tn_ns "$client")
    if [ "$profile" = public ]; then
        ip -n "$router_ns" addr replace "203.0.113.$((base + 1))/26" dev lan || return 1
        ip -n "$client_ns" addr replace "203.0.113.$((base + 2))/26" dev eth0 || return 1
        ip -n "$client_ns" addr del "10.0.$n.2/24" dev eth0 2>/dev/null || true
        ip -n "$client_ns" route replace default via "203.0.113.$((base + 1))" || return 1
    else
        ip -n "$client_ns" addr replace "10.0.$n.2/24" dev eth0 || return 1
        ip -n "$client_ns" addr del "203.0.113.$((base + 2))/26" dev eth0 2>/dev/null || true
        ip -n "$router_ns" addr del "203.0.113.$((base + 1))/26" dev lan 2>/dev/null || true
        ip -n "$client_ns" route replace default via "10.0.$n.1" || return 1
    fi
    return 0
}
