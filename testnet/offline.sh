# shellcheck shell=bash
# The probe's first hop on networks that fail before any STUN server
# (sourced by lib.sh). Each case builds namespaces of its own, runs
# `ranat probe -4 --server stun.example.test` in them (once with --json,
# once for the table) and removes them again:
#
#   no_network  the client has only lo up and no route; its resolv.conf
#               names 10.77.0.53                       -> no_network, exit 13
#   dns_silent  the client's eth0 (10.77.0.2/24) leads to a gateway
#               namespace (10.77.0.1), with a default route through it; its
#               resolv.conf names 10.77.0.53, which no host has, so no
#               lookup is answered                     -> dns_failed, exit 14
#   no_stun     as dns_silent, but the resolv.conf names 10.77.0.1, where
#               dnsmasq answers stun.example.test with 10.77.0.1, on which
#               no STUN server listens                 -> udp_blocked, exit 11
#
# The namespaces are "$TN_PREFIX-oc" (the client) and "$TN_PREFIX-og" (its
# gateway); the resolv.conf is /etc/netns/$TN_PREFIX-oc/resolv.conf, which
# `ip netns exec` bind-mounts over /etc/resolv.conf. Nothing is connected to
# the test bed or the root namespace: every packet stays inside these two
# namespaces. tn_down removes them and the resolv.conf if a case is cut
# short.

TN_OFFLINE_NAME=stun.example.test
# The client, its gateway, and a nameserver address no host has.
TN_OFFLINE_CLIENT=10.77.0.2
TN_OFFLINE_GATEWAY=10.77.0.1
TN_OFFLINE_SILENT_DNS=10.77.0.53

# The cases scripts/testnet.sh runs: a name, then what the probe must give:
# its exit code, `verdict`, `first_hop` and `ipv4.status`, and a phrase the
# table must contain.
#  case       exit verdict     first_hop  ipv4.status phrase
TN_OFFLINE_CASES=(
    "no_network 13   no_network  no_network unavailable This machine has no network: no default route (IPv4)"
    "dns_silent 14   dns_failed  dns_failed dns_failed  stun.example.test: no address (DNS gave no answer to the A lookup)"
    "no_stun    11   udp_blocked no_answer  udp_blocked No STUN server answered over UDP"
)

# The resolv.conf directory of the client namespace.
_tn_offline_etc() { echo "/etc/netns/$(tn_ns oc)"; }

# _tn_offline_build CASE: the client namespace (and for every case but
# no_network its gateway) and the client's resolv.conf.
_tn_offline_build() {
    local case=$1 nameserver=$TN_OFFLINE_SILENT_DNS
    _tn_add_ns oc || return 1
    if [ "$case" != no_network ]; then
        _tn_add_ns og || return 1
        _tn_veth oc eth0 og lan || return 1
        ip -n "$(tn_ns oc)" addr add "$TN_OFFLINE_CLIENT/24" dev eth0 || return 1
        ip -n "$(tn_ns og)" addr add "$TN_OFFLINE_GATEWAY/24" dev lan || return 1
        ip -n "$(tn_ns oc)" route add default via "$TN_OFFLINE_GATEWAY" || return 1
    fi
    [ "$case" = no_stun ] && nameserver=$TN_OFFLINE_GATEWAY
    mkdir -p "$(_tn_offline_etc)" || return 1
    printf 'nameserver %s\n' "$nameserver" >"$(_tn_offline_etc)/resolv.conf" || return 1
    if [ "$case" = no_stun ]; then
        # Authoritative for example.test: the A record, and an empty
        # answer (not a referral upstream: there is none) for anything else.
        tn_spawn offline-dnsmasq og dnsmasq --keep-in-foreground --conf-file=/dev/null \
            --no-resolv --no-hosts --no-poll --bind-interfaces \
            --listen-address="$TN_OFFLINE_GATEWAY" --except-interface=lo --pid-file= \
            --user=nobody --group=nogroup --log-queries --log-facility=- \
            --local=/example.test/ --address="/$TN_OFFLINE_NAME/$TN_OFFLINE_GATEWAY" || return 1
        tn_wait_udp og offline-dnsmasq 5 "$TN_OFFLINE_GATEWAY:53" || return 1
    fi
}

# Removes what _tn_offline_build made (also a half-built case).
_tn_offline_remove() {
    local role ns pid
    tn_stop offline-dnsmasq
    for role in oc og; do
        ns=$(tn_ns "$role")
        ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            _tn_kill_and_wait "$pid" "$ns"
        done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$(_tn_offline_etc)"
    rmdir /etc/netns 2>/dev/null
    return 0
}

# tn_offline_probe CASE PHRASE OUT: builds the case, probes (OUT.json and
# OUT.txt, each with OUT.*.stderr) and removes the case. Prints "EXIT
# VERDICT FIRST_HOP STATUS WORDS": the JSON run's exit code and fields, and
# WORDS "said" when the table run exited the same, contains PHRASE and
# shows no resolver internals, else what went wrong.
tn_offline_probe() {
    local case=$1 phrase=$2 out=$3 bin rc table_rc fields words=said
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    if ! _tn_offline_build "$case"; then
        _tn_offline_remove
        return 1
    fi
    local probe=(timeout 30 "$bin" probe -4 --no-portmap --no-teredo --server "$TN_OFFLINE_NAME")
    tn_exec oc "${probe[@]}" --json >"$out.json" 2>"$out.json.stderr"
    rc=$?
    tn_exec oc "${probe[@]}" >"$out.txt" 2>"$out.txt.stderr"
    table_rc=$?
    [ -e "$TN_DIR/logs/offline-dnsmasq.log" ] && cp "$TN_DIR/logs/offline-dnsmasq.log" "$out.dnsmasq.log"
    _tn_offline_remove
    fields=$(jq -r '[.verdict, .first_hop, .ipv4.status] | join(" ")' "$out.json" 2>/dev/null) ||
        fields="error - -"
    if [ "$table_rc" != "$rc" ]; then
        words="table-exit-$table_rc"
    elif grep -qE 'Query \{|query_type|\{ *name:|AAAA' "$out.txt" "$out.json"; then
        words=internals-or-AAAA
    elif ! tr -s ' \n' ' ' <"$out.txt" | grep -qF "$phrase"; then
        words=unsaid
    fi
    echo "$rc $fields $words"
}
