# shellcheck shell=bash
# ranat's network test bed: Linux network namespaces, nftables NATs and real
# STUN/TURN/Teredo/UPnP servers. Source this file, then call tn_up / tn_down.
#
#   client1 (c1) --lan-- router1 (r1) --wan--+
#                                            +-- br0 in "inet" -- server (srv)
#   client2 (c2) --lan-- router2 (r2) --wan--+
#
# Every namespace is named "$TN_PREFIX-<role>" (TN_PREFIX comes from
# RANAT_TESTNET_PREFIX, default "rn<pid>"), so two runs never collide. The
# veth pairs are created directly inside their namespaces (never in the root
# namespace), so the short interface names below are private to a run.
# Nothing is ever connected to the root namespace.
#
# Addresses (documentation ranges only; the host itself uses 192.0.2.0/24):
#   router N WAN        203.0.113.N/25 on "wan"
#   router N LAN        10.0.N.1/24 on "lan"; client N is 10.0.N.2 on "eth0"
#   router N public LAN 203.0.113.(64+64N)/26, routed to router N; used by the
#                       "public" profile (client N gets .(66+64N))
#   servers             198.51.100.0/24 on "eth0" in srv, see TN_SERVER_* below
#
# IPv6, documentation prefix 2001:db8::/32 only, no NAT (see testnet/ipv6.sh
# for the routers' IPv6 firewall profiles):
#   router N WAN        2001:db8::N/64 on "wan" (the bridge's own segment)
#   router N LAN        2001:db8:N::1/64 on "lan"; client N is 2001:db8:N::2,
#                       default route via 2001:db8:N::1
#   servers             2001:db8:100::/64 on "eth0" in srv, see TN_SERVER6_*
# No namespace does duplicate address detection or accepts router
# advertisements; every address is static.

TN_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TN_ROOT=$(cd "$TN_LIB_DIR/.." && pwd)
TN_PREFIX=${RANAT_TESTNET_PREFIX:-rn$$}
TN_DIR=${TMPDIR:-/tmp}/ranat-testnet-$TN_PREFIX

# Server addresses: ranat serve, coturn, stund, miredo-server (which needs two
# consecutive addresses), and a second stund only miniupnpd talks to.
TN_SERVER_RANAT=(198.51.100.10 198.51.100.11)
TN_SERVER_COTURN=(198.51.100.20 198.51.100.21)
TN_SERVER_STUND=(198.51.100.30 198.51.100.31)
TN_SERVER_MIREDO=(198.51.100.40 198.51.100.41)
TN_SERVER_UPNP_STUN=(198.51.100.50 198.51.100.51)
# coturn as a TURN relay (testnet/relay.sh), apart from the STUN-only one.
TN_SERVER_COTURN_RELAY=(198.51.100.60)
# The servers' IPv6 addresses (on srv's eth0 beside the IPv4 ones): ranat
# serve and coturn listen on them too (testnet/ipv6.sh), stund cannot.
TN_SERVER6_NET=2001:db8:100::/64
TN_SERVER6_RANAT=(2001:db8:100::10 2001:db8:100::11)
TN_SERVER6_COTURN=(2001:db8:100::20 2001:db8:100::21)
TN_SERVER6_STUND=(2001:db8:100::30 2001:db8:100::31)
TN_SERVER6_COTURN_RELAY=(2001:db8:100::60)
# The shared secret of both relays' time-limited credentials (TURN REST API).
TN_RELAY_SECRET=testnet-relay-secret
TN_ROUTERS=(r1 r2)

# Ports the sequential and address-dependent NATs hand out: 20000 + (0..N-1).
TN_NAT_PORT_BASE=20000
TN_NAT_PORT_COUNT=16384

# The kernel's conntrack UDP timeouts, restored when a profile sets none.
TN_UDP_TIMEOUT_DEFAULT=30
TN_UDP_TIMEOUT_STREAM_DEFAULT=120

tn_log() { printf 'testnet: %s\n' "$*" >&2; }
tn_die() { tn_log "error: $*"; return 1; }

# The full name of a namespace role: tn_ns r1 -> rn1234-r1.
tn_ns() { printf '%s-%s' "$TN_PREFIX" "$1"; }

# Runs a command in a namespace of this run: tn_exec c1 ping -c1 198.51.100.10
tn_exec() {
    local role=$1
    shift
    ip netns exec "$(tn_ns "$role")" "$@"
}

tn_router_index() {
    case $1 in
        r1) echo 1 ;;
        r2) echo 2 ;;
        *)
            tn_die "unknown router '$1' (use r1 or r2)"
            return 1
            ;;
    esac
}
tn_client_of() { echo "c$(tn_router_index "$1")"; }
# Stacked NATs (tn_stack): router N can sit behind an outer NAT, "oN", the
# ISP's router, which then holds the site's public address 203.0.113.N on
# the bridge while router N's WAN moves into the outer NAT's LAN.
tn_outer_of() { echo "o$(tn_router_index "$1")"; }
tn_is_outer() { [[ $1 =~ ^o[12]$ ]]; }
# What is stacked in front of a router: cgnat, private, or nothing.
tn_stack_kind() { cat "$TN_DIR/stack-$1" 2>/dev/null || true; }
# The outer NAT's LAN (router N's WAN side) for a kind of stack:
# 100.64.N.0/24 (RFC 6598 shared address space) or 172.16.N.0/24 (RFC 1918).
_tn_stack_net() {
    case $2 in
        cgnat) echo "100.64.$(tn_router_index "$1")" ;;
        private) echo "172.16.$(tn_router_index "$1")" ;;
        *)
            tn_die "unknown stack '$2' (use cgnat or private)"
            return 1
            ;;
    esac
}
# The address the Internet sees for router N's site: 203.0.113.N.
tn_public_ip() { echo "203.0.113.$(tn_router_index "$1")"; }
# A router's own WAN address, the one its NAT maps to: the public address,
# or behind an outer NAT the address that NAT's LAN gave it.
tn_wan_ip() {
    if tn_is_outer "$1"; then
        echo "203.0.113.${1#o}"
        return 0
    fi
    local kind
    kind=$(tn_stack_kind "$1")
    if [ -n "$kind" ]; then
        echo "$(_tn_stack_net "$1" "$kind").2"
    else
        tn_public_ip "$1"
    fi
}
tn_client_ip() { echo "10.0.$(tn_router_index "$1").2"; }
tn_router_lan_ip() { echo "10.0.$(tn_router_index "$1").1"; }
# IPv6: router N's WAN address, its LAN prefix, its own LAN address, and
# client N's address (the one the session's IPv6 host candidate carries).
tn_wan_ip6() { echo "2001:db8::$(tn_router_index "$1")"; }
tn_lan_net6() { echo "2001:db8:$(tn_router_index "$1")::/64"; }
tn_router_lan_ip6() { echo "2001:db8:$(tn_router_index "$1")::1"; }
tn_client_ip6() { echo "2001:db8:$(tn_router_index "$1")::2"; }
# The first address of router N's public /26 (network address).
tn_public_net_base() { echo $((64 + 64 * $(tn_router_index "$1"))); }

tn_is_up() { ip netns list 2>/dev/null | grep -q "^$(tn_ns inet)\b"; }

# --- building ---------------------------------------------------------------

_tn_add_ns() {
    local ns
    ns=$(tn_ns "$1")
    ip netns add "$ns" || return 1
    # Static IPv6 only: no duplicate address detection, no router
    # advertisements, for every interface created from now on ("default").
    ip netns exec "$ns" sysctl -qw \
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 || return 1
    ip -n "$ns" link set lo up
}

# _tn_ipv6_settle: every veth end's fe80:: address usable at once. Right
# after a link comes up its link-local address can sit in duplicate address
# detection for about a second (testnet-facts.md), during which a router
# forwards IPv6 late or not at all; a still-tentative one is deleted and
# added again with nodad. Waits (at most 3 s) until every interface with a
# global IPv6 address also holds a link-local one and none is tentative.
_tn_ipv6_settle() {
    local role ns dev address i pending state
    for ((i = 0; i < 60; i++)); do
        pending=0
        for role in srv "${TN_ROUTERS[@]}" c1 c2; do
            ns=$(tn_ns "$role")
            # "tentative DEV ADDRESS" per tentative link-local address,
            # "missing DEV" per interface without a link-local one.
            state=$(ip -n "$ns" -6 -o addr show | awk '
                $2 == "lo" { next }
                $4 ~ /^fe80:/ { linklocal[$2] = 1; if (/ tentative/) print "tentative", $2, $4; next }
                { global[$2] = 1; if (/ tentative/) print "tentative-global", $2, $4 }
                END { for (dev in global) if (!(dev in linklocal)) print "missing", dev }')
            [ -n "$state" ] || continue
            pending=1
            while read -r what dev address; do
                [ "$what" = tentative ] || continue
                ip -n "$ns" -6 addr del "$address" dev "$dev" 2>/dev/null
                ip -n "$ns" -6 addr add "$address" dev "$dev" scope link nodad 2>/dev/null
            done <<<"$state"
        done
        [ $pending -eq 0 ] && return 0
        sleep 0.05
    done
    tn_die "IPv6 link-local addresses still missing or tentative after 3 s: $state"
}

# _tn_veth ROLE_A IF_A ROLE_B IF_B: a veth pair created inside the namespaces.
_tn_veth() {
    ip -n "$(tn_ns "$1")" link add "$2" type veth peer name "$4" netns "$(tn_ns "$3")" &&
        ip -n "$(tn_ns "$1")" link set "$2" up &&
        ip -n "$(tn_ns "$3")" link set "$4" up
}

# _tn_wire_wan ROLE N: ROLE's link "wan" to the bridge (its end there named
# rN), with the public address 203.0.113.N and the routes to the servers and
# to the other routers' public networks.
_tn_wire_wan() {
    local role=$1 n=$2 ns other m
    ns=$(tn_ns "$role")
    _tn_veth inet "r$n" "$role" wan || return 1
    ip -n "$(tn_ns inet)" link set "r$n" master br0 || return 1
    ip -n "$ns" addr add "203.0.113.$n/25" dev wan || return 1
    ip -n "$ns" route add 198.51.100.0/24 dev wan || return 1
    for other in "${TN_ROUTERS[@]}"; do
        m=$(tn_router_index "$other")
        [ "$m" = "$n" ] && continue
        ip -n "$ns" route add "203.0.113.$(tn_public_net_base "$other")/26" via "203.0.113.$m" dev wan || return 1
    done
    tn_is_outer "$role" && return 0
    # IPv6 only for a router on the bridge itself: an outer NAT carries none.
    ip -n "$ns" addr add "$(tn_wan_ip6 "$role")/64" dev wan nodad || return 1
    ip -n "$ns" route add "$TN_SERVER6_NET" dev wan || return 1
    for other in "${TN_ROUTERS[@]}"; do
        [ "$other" = "$role" ] && continue
        ip -n "$ns" route add "$(tn_lan_net6 "$other")" via "$(tn_wan_ip6 "$other")" dev wan || return 1
    done
}

# Builds the namespaces, links and addresses; loads port_restricted_cone into
# both routers. Starts no daemon (see tn_start_servers).
tn_up() {
    [ "$(id -u)" -eq 0 ] || { tn_die "the test bed needs root"; return 1; }
    if ! [[ $TN_PREFIX =~ ^[a-z][a-z0-9]{0,11}$ ]]; then
        tn_die "RANAT_TESTNET_PREFIX must be 1-12 lowercase letters/digits, starting with a letter"
        return 1
    fi
    if tn_is_up || [ -e "$TN_DIR" ]; then
        tn_die "a test bed with prefix $TN_PREFIX already exists (testnet/down.sh $TN_PREFIX)"
        return 1
    fi
    mkdir -p "$TN_DIR"/{pids,logs,run} || return 1
    local role r n
    for role in inet srv "${TN_ROUTERS[@]}" c1 c2; do
        _tn_add_ns "$role" || return 1
    done

    # The "internet": one bridge, no address, no IPv6 of its own.
    tn_exec inet sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
    ip -n "$(tn_ns inet)" link add br0 type bridge || return 1
    ip -n "$(tn_ns inet)" link set br0 up || return 1

    # Servers: every address on one interface, on-link to the routers' WAN.
    _tn_veth inet srv srv eth0 || return 1
    ip -n "$(tn_ns inet)" link set srv master br0 || return 1
    local address
    for address in "${TN_SERVER_RANAT[@]}" "${TN_SERVER_COTURN[@]}" "${TN_SERVER_STUND[@]}" \
        "${TN_SERVER_MIREDO[@]}" "${TN_SERVER_UPNP_STUN[@]}" "${TN_SERVER_COTURN_RELAY[@]}"; do
        ip -n "$(tn_ns srv)" addr add "$address/24" dev eth0 || return 1
    done
    ip -n "$(tn_ns srv)" route add 203.0.113.0/25 dev eth0 || return 1
    for address in "${TN_SERVER6_RANAT[@]}" "${TN_SERVER6_COTURN[@]}" "${TN_SERVER6_STUND[@]}" \
        "${TN_SERVER6_COTURN_RELAY[@]}"; do
        ip -n "$(tn_ns srv)" addr add "$address/64" dev eth0 nodad || return 1
    done
    ip -n "$(tn_ns srv)" route add 2001:db8::/64 dev eth0 || return 1

    for r in "${TN_ROUTERS[@]}"; do
        n=$(tn_router_index "$r")
        _tn_veth "$r" lan "c$n" eth0 || return 1
        ip -n "$(tn_ns "$r")" addr add "10.0.$n.1/24" dev lan || return 1
        tn_exec "$r" sysctl -qw net.ipv4.ip_forward=1 || return 1
        ip -n "$(tn_ns "c$n")" addr add "10.0.$n.2/24" dev eth0 || return 1
        ip -n "$(tn_ns "c$n")" route add default via "10.0.$n.1" || return 1
        # IPv6: the same shape, routed without NAT.
        ip -n "$(tn_ns "$r")" addr add "$(tn_router_lan_ip6 "$r")/64" dev lan nodad || return 1
        tn_exec "$r" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
        ip -n "$(tn_ns "c$n")" addr add "$(tn_client_ip6 "$r")/64" dev eth0 nodad || return 1
        ip -n "$(tn_ns "c$n")" route add default via "$(tn_router_lan_ip6 "$r")" dev eth0 || return 1
        _tn_wire_wan "$r" "$n" || return 1
        # The servers reach router N's public LAN (profile "public") and its
        # IPv6 LAN through it.
        ip -n "$(tn_ns srv)" route add "203.0.113.$(tn_public_net_base "$r")/26" via "203.0.113.$n" dev eth0 || return 1
        ip -n "$(tn_ns srv)" route add "$(tn_lan_net6 "$r")" via "$(tn_wan_ip6 "$r")" dev eth0 || return 1
    done
    _tn_ipv6_settle || return 1
    # The IPv4 NAT first, then the IPv6 firewall (its own table, which
    # load_profile leaves alone).
    for r in "${TN_ROUTERS[@]}"; do
        load_profile "$r" port_restricted_cone || return 1
        load_ipv6_profile "$r" "$TN_IPV6_PROFILE_DEFAULT" || return 1
    done
    tn_log "up: prefix $TN_PREFIX, state in $TN_DIR"
}

# tn_stack ROUTER cgnat|private: puts an outer NAT, the ISP's router oN,
# between router N and the bridge. oN takes 203.0.113.N on the bridge; its
# LAN is 100.64.N.0/24 (cgnat: RFC 6598 shared address space) or
# 172.16.N.0/24 (private: RFC 1918), where router N's WAN becomes .2. oN
# gets port_restricted_cone (load_profile oN PROFILE changes it: every
# profile but "public" works on it) and router N its profile again, now
# mapping to its new WAN address. The stacked router carries no IPv6.
# miniupnpd on router N is stopped (its WAN link is replaced): start it
# again afterwards. tn_unstack undoes it all.
tn_stack() {
    local router=$1 kind=$2 n outer net profile
    n=$(tn_router_index "$router") || return 1
    net=$(_tn_stack_net "$router" "$kind") || return 1
    if [ -n "$(tn_stack_kind "$router")" ]; then
        tn_die "$router is already stacked ($(tn_stack_kind "$router"))"
        return 1
    fi
    read -r -a profile <"$TN_DIR/profile-$router" || return 1
    if [ "${profile[0]}" = public ]; then
        tn_die "tn_stack: $router has profile public; load a NAT profile first"
        return 1
    fi
    outer=$(tn_outer_of "$router")
    tn_stop "miniupnpd-$router"
    _tn_add_ns "$outer" || return 1
    tn_exec "$outer" sysctl -qw net.ipv4.ip_forward=1 \
        net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
    # Deleting the bridge's end of router N's WAN link deletes the link.
    ip -n "$(tn_ns inet)" link del "$router" || return 1
    _tn_wire_wan "$outer" "$n" || return 1
    _tn_veth "$outer" lan "$router" wan || return 1
    ip -n "$(tn_ns "$outer")" addr add "$net.1/24" dev lan || return 1
    ip -n "$(tn_ns "$router")" addr add "$net.2/24" dev wan || return 1
    ip -n "$(tn_ns "$router")" route add default via "$net.1" dev wan || return 1
    echo "$kind" >"$TN_DIR/stack-$router" || return 1
    load_profile "$outer" port_restricted_cone || return 1
    load_profile "$router" "${profile[@]}"
}

# tn_unstack ROUTER: removes router N's outer NAT and puts router N back on
# the bridge as tn_up made it, with its profile (miniupnpd on it stopped).
tn_unstack() {
    local router=$1 n outer pid profile
    n=$(tn_router_index "$router") || return 1
    [ -n "$(tn_stack_kind "$router")" ] || return 0
    outer=$(tn_outer_of "$router")
    tn_stop "miniupnpd-$router"
    for pid in $(ip netns pids "$(tn_ns "$outer")" 2>/dev/null); do
        _tn_kill_and_wait "$pid" "$(tn_ns "$outer")"
    done
    # The outer NAT's veth ends go with its namespace, and their peers with them.
    ip netns del "$(tn_ns "$outer")" || return 1
    rm -f "$TN_DIR/stack-$router" "$TN_DIR/profile-$outer"
    # The namespace goes at once, its links a moment later (the kernel
    # cleans namespaces up on a work queue): both peers of the outer NAT's
    # links (router N's "wan", the bridge's "rN") must be gone before the
    # new WAN link takes their names (seen under load: "RTNETLINK answers:
    # File exists"). At most 5 s.
    local i
    for ((i = 0; i < 100; i++)); do
        ip -n "$(tn_ns "$router")" link show wan >/dev/null 2>&1 ||
            ip -n "$(tn_ns inet)" link show "r$n" >/dev/null 2>&1 || break
        sleep 0.05
    done
    _tn_wire_wan "$router" "$n" || return 1
    read -r -a profile <"$TN_DIR/profile-$router" || return 1
    load_profile "$router" "${profile[@]}"
}

# Stops every daemon (and waits for it), then removes the namespaces and the
# state directory. Safe to call twice and on a half-built test bed.
tn_down() {
    # Teardown goes on past any error, whatever the caller's set -e.
    local -
    set +e
    local file ns pid
    if [ -d "$TN_DIR/pids" ]; then
        for file in "$TN_DIR"/pids/*; do
            [ -e "$file" ] && tn_stop "$(basename "$file")"
        done
    fi
    # Anything still running inside our namespaces was started by this test
    # bed (a probe interrupted by Ctrl-C, say): stop it too, by pid.
    for ns in $(_tn_our_namespaces); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            _tn_kill_and_wait "$pid" "$ns"
        done
    done
    for ns in $(_tn_our_namespaces); do
        ip netns del "$ns" 2>/dev/null
    done
    # The files `ip netns exec` bind-mounts into our namespaces (a
    # resolv.conf of testnet/offline.sh's); only for a well-formed prefix.
    if [[ $TN_PREFIX =~ ^[a-z][a-z0-9]{0,11}$ ]]; then
        rm -rf /etc/netns/"$TN_PREFIX"-*
        rmdir /etc/netns 2>/dev/null
    fi
    rm -rf "$TN_DIR"
    return 0
}

# tn_save_evidence DIR: keeps what a failure needs explaining before tn_down
# removes it: every daemon's log (the relay reports frames it had to drop),
# and each router's ruleset and conntrack statistics (insert_failed, drop).
tn_save_evidence() {
    local dir=$1 r
    mkdir -p "$dir" || return 1
    [ -d "$TN_DIR/logs" ] && cp -r "$TN_DIR/logs" "$dir/"
    for r in "${TN_ROUTERS[@]}" o1 o2; do
        tn_is_up || break
        ip netns list | grep -q "^$(tn_ns "$r")\b" || continue
        tn_exec "$r" nft list ruleset >"$dir/$r-ruleset.nft" 2>&1
        tn_exec "$r" conntrack -S >"$dir/$r-conntrack-stats.txt" 2>&1
    done
    return 0
}

_tn_our_namespaces() {
    ip netns list 2>/dev/null | awk -v p="$TN_PREFIX-" 'index($1, p) == 1 { print $1 }'
}

# --- daemons ----------------------------------------------------------------

# tn_spawn NAME ROLE CMD...: starts CMD in the background in a namespace, with
# its output in $TN_DIR/logs/NAME.log; tn_stop NAME ends it.
tn_spawn() {
    local name=$1 role=$2
    shift 2
    if [ -e "$TN_DIR/pids/$name" ]; then
        tn_die "$name is already running"
        return 1
    fi
    ip netns exec "$(tn_ns "$role")" "$@" </dev/null >"$TN_DIR/logs/$name.log" 2>&1 &
    echo "$! $(tn_ns "$role")" >"$TN_DIR/pids/$name"
}

tn_stop() {
    local name=$1 pid ns
    [ -e "$TN_DIR/pids/$name" ] || return 0
    read -r pid ns <"$TN_DIR/pids/$name"
    _tn_kill_and_wait "$pid" "$ns"
    rm -f "$TN_DIR/pids/$name"
}

# Whether a process exists and is not a zombie.
_tn_alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# _tn_kill_and_wait PID NAMESPACE: SIGTERM, up to 5 s of grace, then SIGKILL;
# returns once the process is gone. The namespace check guards against a
# recycled pid: only a process inside our namespace is signalled.
_tn_kill_and_wait() {
    local pid=$1 ns=$2 i
    _tn_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    [ "$(ip netns identify "$pid" 2>/dev/null)" = "$ns" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        _tn_alive "$pid" || break
        sleep 0.1
    done
    if _tn_alive "$pid"; then
        tn_log "pid $pid ignored SIGTERM for 5 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        while _tn_alive "$pid"; do sleep 0.05; done
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# tn_wait_udp ROLE NAME SECONDS ADDR:PORT...: waits until UDP sockets are bound
# to every ADDR:PORT in the namespace, or fails (with the daemon's log).
tn_wait_udp() {
    local role=$1 name=$2 seconds=$3 i want missing bound
    shift 3
    for ((i = 0; i < seconds * 20; i++)); do
        bound=$(tn_exec "$role" ss -Hlnu 2>/dev/null | awk '{ print $4 }')
        missing=0
        for want in "$@"; do
            grep -qxF "$want" <<<"$bound" || missing=1
        done
        [ $missing -eq 0 ] && return 0
        if ! _tn_alive "$(cut -d' ' -f1 "$TN_DIR/pids/$name")"; then
            break
        fi
        sleep 0.05
    done
    tn_log "$name did not bind $* within ${seconds}s; its log:"
    sed 's/^/    /' "$TN_DIR/logs/$name.log" >&2
    return 1
}

# The ranat binary: $RANAT_BIN, else the newer of the release and debug
# builds (so a stale release build never shadows a fresh `cargo test`).
tn_ranat_bin() {
    if [ -n "${RANAT_BIN:-}" ]; then
        [ -x "$RANAT_BIN" ] && { echo "$RANAT_BIN"; return 0; }
        tn_die "RANAT_BIN=$RANAT_BIN is not an executable"
        return 1
    fi
    local release=$TN_ROOT/target/release/ranat debug=$TN_ROOT/target/debug/ranat
    if [ -x "$release" ] && { [ ! -x "$debug" ] || [ "$release" -nt "$debug" ]; }; then
        echo "$release"
    elif [ -x "$debug" ]; then
        echo "$debug"
    else
        return 1
    fi
}

# Whether this ranat already has a given subcommand (it is being written).
tn_ranat_has() {
    local bin
    bin=$(tn_ranat_bin) || return 1
    "$bin" "$1" --help >/dev/null 2>&1
}

tn_start_ranat_serve() {
    local bin
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary (set RANAT_BIN or cargo build --release)"; return 1; }
    # The relay too, once ranat has a client to test it with (testnet/relay.sh).
    local relay=()
    if tn_ranat_has relay-test; then
        tn_relay_secret_file >/dev/null || return 1
        relay=(--relay-secret-file "$(tn_relay_secret_file)")
    fi
    tn_spawn ranat-serve srv "$bin" serve --primary "${TN_SERVER_RANAT[0]}" \
        --alternate "${TN_SERVER_RANAT[1]}" "${relay[@]}" || return 1
    tn_wait_udp srv ranat-serve 5 "${TN_SERVER_RANAT[0]}:3478" "${TN_SERVER_RANAT[0]}:3479" \
        "${TN_SERVER_RANAT[1]}:3478" "${TN_SERVER_RANAT[1]}:3479" || return 1
    tn_start_ranat_serve6
}

# coturn in RFC 5780 mode: two addresses x two ports, STUN only, on IPv4
# and (a process of its own) on IPv6.
tn_start_coturn() {
    tn_start_coturn_on coturn "${TN_SERVER_COTURN[@]}" || return 1
    tn_start_coturn_on coturn6 "${TN_SERVER6_COTURN[@]}"
}

# tn_start_coturn_on NAME A B: coturn in RFC 5780 mode on addresses A and B
# (one family), ports 3478 and 3479, STUN only, as the bed's process NAME.
tn_start_coturn_on() {
    local name=$1 a=$2 b=$3 conf=$TN_DIR/run/$1.conf
    local at_a=$a at_b=$b
    [[ $a == *:* ]] && at_a="[$a]" at_b="[$b]"
    cat >"$conf" <<EOF
listening-ip=$a
listening-ip=$b
listening-port=3478
alt-listening-port=3479
stun-only
no-auth
no-tls
no-dtls
no-tcp
no-cli
no-stdout-log
simple-log
log-file=$TN_DIR/logs/$name-server.log
pidfile=$TN_DIR/run/$name.pid
userdb=$TN_DIR/run/$name.db
EOF
    tn_spawn "$name" srv turnserver -c "$conf" || return 1
    tn_wait_udp srv "$name" 5 "$at_a:3478" "$at_a:3479" "$at_b:3478" "$at_b:3479"
}

# The relays' shared secret in a file (written on first use); prints its path.
tn_relay_secret_file() {
    local file=$TN_DIR/run/relay-secret
    [ -e "$file" ] || (umask 077 && echo "$TN_RELAY_SECRET" >"$file") || return 1
    echo "$file"
}

# coturn as a TURN relay, UDP and TCP on its own address, with time-limited
# credentials from the test bed's secret (--use-auth-secret).
tn_start_coturn_relay() {
    local conf=$TN_DIR/run/turnserver-relay.conf ip=${TN_SERVER_COTURN_RELAY[0]}
    cat >"$conf" <<EOF
listening-ip=$ip
relay-ip=$ip
listening-port=3478
use-auth-secret
static-auth-secret=$TN_RELAY_SECRET
realm=testnet
min-port=49152
max-port=65535
no-tls
no-dtls
no-cli
no-stdout-log
simple-log
log-file=$TN_DIR/logs/coturn-relay-server.log
pidfile=$TN_DIR/run/turnserver-relay.pid
userdb=$TN_DIR/run/turndb-relay
EOF
    tn_spawn coturn-relay srv turnserver -c "$conf" || return 1
    tn_wait_udp srv coturn-relay 5 "$ip:3478"
}

# stund (Vovida, RFC 3489) has no config file: its command line is its config.
tn_start_stund() {
    tn_spawn stund srv stund -h "${TN_SERVER_STUND[0]}" -a "${TN_SERVER_STUND[1]}" || return 1
    tn_wait_udp srv stund 5 "${TN_SERVER_STUND[0]}:3478" "${TN_SERVER_STUND[1]}:3479"
}

# miredo-server listens on ServerBindAddress and the next address (port 3544).
tn_start_miredo_server() {
    local conf=$TN_DIR/run/miredo-server.conf
    printf 'ServerBindAddress %s\nServerBindAddress2 %s\n' \
        "${TN_SERVER_MIREDO[0]}" "${TN_SERVER_MIREDO[1]}" >"$conf"
    tn_spawn miredo-server srv miredo-server -f -c "$conf" -p "$TN_DIR/run/miredo-server.pid" || return 1
    tn_wait_udp srv miredo-server 5 "${TN_SERVER_MIREDO[0]}:3544" "${TN_SERVER_MIREDO[1]}:3544"
}

# The servers every run needs; ranat serve only once ranat has the command.
tn_start_servers() {
    tn_start_coturn || return 1
    tn_start_stund || return 1
    tn_start_miredo_server || return 1
    if tn_ranat_has serve; then
        tn_start_ranat_serve || return 1
    else
        tn_log "no 'ranat serve' yet ($(tn_ranat_bin || echo 'no binary')): not started"
    fi
}

# miniupnpd (UPnP IGD + NAT-PMP + PCP, nftables backend) on a router. It wants
# a public WAN address or, with ext_perform_stun, a STUN server: it gets its
# own stund, whose answers the router's input chain lets in (rule "upnp-stun"
# in the ruleset), so no client probe is affected by that exception.
tn_start_miniupnpd() {
    local router=$1 conf n
    n=$(tn_router_index "$router") || return 1
    if [ ! -e "$TN_DIR/pids/stund-upnp" ]; then
        tn_spawn stund-upnp srv stund -h "${TN_SERVER_UPNP_STUN[0]}" -a "${TN_SERVER_UPNP_STUN[1]}" || return 1
        tn_wait_udp srv stund-upnp 5 "${TN_SERVER_UPNP_STUN[0]}:3478" || return 1
    fi
    conf=$TN_DIR/run/miniupnpd-$router.conf
    cat >"$conf" <<EOF
ext_ifname=wan
listening_ip=lan
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
notify_interval=60
clean_ruleset_interval=600
uuid=8d2a6c1e-0000-4000-8000-00000000000$n
friendly_name=ranat testnet router $n
lease_file=$TN_DIR/run/miniupnpd-$router.leases
ext_perform_stun=yes
ext_stun_host=${TN_SERVER_UPNP_STUN[0]}
ext_stun_port=3478
upnp_table_name=rnat
upnp_nat_table_name=rnat
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 10.0.$n.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
    tn_spawn "miniupnpd-$router" "$router" miniupnpd -d -f "$conf" -P "$TN_DIR/run/miniupnpd-$router.pid" || return 1
    # Its STUN self-test takes a few seconds before it listens.
    tn_wait_udp "$router" "miniupnpd-$router" 15 "10.0.$n.1:5351" "0.0.0.0%lan:1900"
}

# A Teredo client (miredo) in a client namespace, qualifying with the test
# bed's miredo-server; returns once it has its 2001:0::/32 address.
tn_start_miredo_client() {
    local client=$1 conf=$TN_DIR/run/miredo-$1.conf i
    printf 'RelayType client\nServerAddress %s\nInterfaceName teredo\n' "${TN_SERVER_MIREDO[0]}" >"$conf"
    tn_spawn "miredo-$client" "$client" miredo -f -c "$conf" -p "$TN_DIR/run/miredo-$client.pid" || return 1
    for ((i = 0; i < 300; i++)); do
        tn_exec "$client" ip -6 addr show dev teredo scope global 2>/dev/null | grep -q 'inet6 2001:0:' &&
            return 0
        sleep 0.05
    done
    tn_log "miredo in $client did not qualify within 15 s; its log:"
    sed 's/^/    /' "$TN_DIR/logs/miredo-$client.log" >&2
    return 1
}

# --- impairments ------------------------------------------------------------

# set_loss ROUTER PERCENT: drops PERCENT % of the frames in each direction of
# the router's WAN link (nftables netdev ingress/egress, so before and after
# all NAT and conntrack). 0 removes the loss.
set_loss() {
    local router=$1 percent=$2 ns
    ns=$(tn_ns "$router")
    if ! [[ $percent =~ ^[0-9]+$ ]] || [ "$percent" -gt 100 ]; then
        tn_die "loss must be 0-100, not '$percent'"
        return 1
    fi
    ip netns exec "$ns" nft -f - <<EOF 2>/dev/null
table netdev rimpair
delete table netdev rimpair
EOF
    [ "$percent" = 0 ] && return 0
    ip netns exec "$ns" nft -f - <<EOF
table netdev rimpair {
    chain wan_in {
        type filter hook ingress device "wan" priority filter; policy accept;
        numgen random mod 100 < $percent drop
    }
    chain wan_out {
        type filter hook egress device "wan" priority filter; policy accept;
        numgen random mod 100 < $percent drop
    }
}
EOF
}

# The relay binary: $TN_RELAY_BIN, else built (or found up to date) by cargo.
tn_relay_bin() {
    if [ -n "${TN_RELAY_BIN:-}" ]; then
        echo "$TN_RELAY_BIN"
        return 0
    fi
    if command -v cargo >/dev/null; then
        (cd "$TN_ROOT" && cargo build --release --quiet -p testnet-relay) >&2 || return 1
    fi
    [ -x "$TN_ROOT/target/release/testnet-relay" ] || { tn_die "no testnet-relay binary"; return 1; }
    echo "$TN_ROOT/target/release/testnet-relay"
}

# set_delay ROUTER MS [JITTER_MS] [LOSS_PERCENT]: puts testnet-relay on the
# router's WAN link (in "inet", between the router's veth end and the bridge),
# delaying each direction by MS. 0 takes the relay out again.
set_delay() {
    local router=$1 ms=$2 jitter=${3:-0} loss=${4:-0} inet relay
    inet=$(tn_ns inet)
    if [ -e "$TN_DIR/pids/relay-$router" ]; then
        tn_stop "relay-$router"
        ip -n "$inet" link del "${router}d" 2>/dev/null || true
        ip -n "$inet" link set "$router" master br0 || return 1
        ip -n "$(tn_ns "$router")" link set dev wan gso_max_segs 65535 || return 1
    fi
    [ "$ms" = 0 ] && [ "$loss" = 0 ] && return 0
    relay=$(tn_relay_bin) || return 1
    ip -n "$inet" link set "$router" nomaster || return 1
    ip -n "$inet" link add "${router}d" type veth peer name "${router}x" || return 1
    ip -n "$inet" link set "${router}d" master br0 up || return 1
    ip -n "$inet" link set "${router}x" up || return 1
    # The relay passes frames one by one, as a wire does: a UDP GSO
    # super-frame (quinn sends them) must be cut into its datagrams before
    # it reaches the relay's packet sockets, by the devices that hand it
    # over (gso_max_segs 1: the kernel segments in software).
    ip -n "$(tn_ns "$router")" link set dev wan gso_max_segs 1 || return 1
    ip -n "$inet" link set dev "${router}d" gso_max_segs 1 || return 1
    tn_spawn "relay-$router" inet "$relay" "$router" "${router}x" \
        --delay-ms "$ms" --jitter-ms "$jitter" --loss "$loss" || return 1
    local i
    for ((i = 0; i < 40; i++)); do
        grep -q '<->' "$TN_DIR/logs/relay-$router.log" && return 0
        sleep 0.05
    done
    tn_log "testnet-relay did not start; its log:"
    cat "$TN_DIR/logs/relay-$router.log" >&2
    return 1
}

# shellcheck source=testnet/profiles.sh
. "$TN_LIB_DIR/profiles.sh"
# shellcheck source=testnet/ipv6.sh
. "$TN_LIB_DIR/ipv6.sh"
# shellcheck source=testnet/probes.sh
. "$TN_LIB_DIR/probes.sh"
# shellcheck source=testnet/gateway.sh
. "$TN_LIB_DIR/gateway.sh"
# shellcheck source=testnet/punch.sh
. "$TN_LIB_DIR/punch.sh"
# shellcheck source=testnet/stacked.sh
. "$TN_LIB_DIR/stacked.sh"
# shellcheck source=testnet/relay.sh
. "$TN_LIB_DIR/relay.sh"
# shellcheck source=testnet/tcp.sh
. "$TN_LIB_DIR/tcp.sh"
# shellcheck source=testnet/trial.sh
. "$TN_LIB_DIR/trial.sh"
# shellcheck source=testnet/session.sh
. "$TN_LIB_DIR/session.sh"
# shellcheck source=testnet/ticket.sh
. "$TN_LIB_DIR/ticket.sh"
# shellcheck source=testnet/offline.sh
. "$TN_LIB_DIR/offline.sh"
