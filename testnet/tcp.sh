# shellcheck shell=bash
# NAT behaviour over TCP (sourced by lib.sh): `ranat probe --tcp` behind a
# router profile against ranat serve's STUN over TCP, and a live
# simultaneous-open TCP punch between the two clients (socat from a fixed
# local port to the other's public address and that port), checked against
# what the probes judged of it.
#
# The profiles' NAT rules for UDP differ; for TCP every profile but
# symmetric_random falls through to plain `snat ip to` (endpoint-independent
# mapping, port preserved), and symmetric_random's `fully-random` gives a
# random port per connection; "public" routes the client's own address.

# The local port both clients punch from.
TN_TCP_PUNCH_PORT=41000

# tn_tcp_expected PROFILE: "no_nat" or the mapping, then the port
# preservation and the simultaneous-open verdict ranat must report.
tn_tcp_expected() {
    case $1 in
        public) echo "no_nat - possible" ;;
        symmetric_random) echo "address_and_port_dependent false unlikely" ;;
        *) echo "endpoint_independent true possible" ;;
    esac
}

# tn_tcp_probe ROLE OUT: ranat probe --tcp on ROLE (c1 or c2) against
# ranat serve; prints "mapping preservation verdict" from its JSON
# ("no_nat" for the mapping when there is none; "error" when it failed).
tn_tcp_probe() {
    local role=$1 out=$2 bin
    bin=$(tn_ranat_bin) || return 1
    tn_exec "$role" timeout 20 "$bin" probe -4 --tcp --json --no-portmap --no-teredo --no-hairpin \
        --server "${TN_SERVER_RANAT[0]}:3478" >"$out.json" 2>"$out.stderr"
    jq -r '.ipv4.tcp | if . == null then "error - -" else
        "\(if .no_nat then "no_nat" else (.mapping // "unknown") end) \(if .port_preservation == null then "-" else .port_preservation end) \(.simultaneous_open)" end' \
        "$out.json" 2>/dev/null || echo "error - -"
}

# tn_tcp_punch P1 P2 OUT: loads the profiles, probes both clients over
# TCP, then has each connect from port TN_TCP_PUNCH_PORT to the other's
# public address and that port at once (a simultaneous open, RFC 793
# §3.4; RFC 5382 §4.2 REQ-2). Prints "verdict1 verdict2 connected1
# connected2" (yes/no).
tn_tcp_punch() {
    local p1=$1 p2=$2 out=$3 v1 v2 pid
    load_profile r1 "$p1" || return 1
    load_profile r2 "$p2" || return 1
    tn_reset_nat r1 && tn_reset_nat r2 || return 1
    v1=$(tn_tcp_probe c1 "$out-probe-c1" | awk '{ print $3 }')
    v2=$(tn_tcp_probe c2 "$out-probe-c2" | awk '{ print $3 }')
    local port=$TN_TCP_PUNCH_PORT pub1 pub2
    pub1=$(tn_wan_ip r1) && pub2=$(tn_wan_ip r2) || return 1
    [ "$p1" = public ] && pub1=$(tn_client_ip c1)
    [ "$p2" = public ] && pub2=$(tn_client_ip c2)
    echo "hello from c1" | tn_exec c1 timeout 10 socat -t 2 -T 6 - \
        "TCP4:$pub2:$port,sourceport=$port,reuseaddr,connect-timeout=8" >"$out-c1.out" 2>"$out-c1.err" &
    pid=$!
    echo "hello from c2" | tn_exec c2 timeout 10 socat -t 2 -T 6 - \
        "TCP4:$pub1:$port,sourceport=$port,reuseaddr,connect-timeout=8" >"$out-c2.out" 2>"$out-c2.err"
    wait "$pid"
    local c1=no c2=no
    grep -q 'hello from c2' "$out-c1.out" 2>/dev/null && c1=yes
    grep -q 'hello from c1' "$out-c2.out" 2>/dev/null && c2=yes
    echo "$v1 $v2 $c1 $c2"
}
