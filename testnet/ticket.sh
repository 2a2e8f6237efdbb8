# shellcheck shell=bash
# Windows Remote Assistance tickets tried for real (sourced by lib.sh): the
# novice's machine, client1 behind router1, listens on TCP as Remote
# Assistance does; a ticket offers its LAN address and router1's public
# address with that port; the helper on client2, behind router2, runs
# `ranat ticket inspect --reach` and says which it could use. The kernel's
# NAT decides: without a port forwarding nothing reaches the novice; with
# one (what a UPnP mapping makes) the public address does.

# The port Remote Assistance's listener has in the ticket.
TN_TICKET_PORT=49231

# tn_ticket_write FILE: an invitation valid for an hour from now offering
# client1's LAN address and router1's public address, both on
# TN_TICKET_PORT, in UTF-16LE with a byte order mark as Windows writes it.
tn_ticket_write() {
    local file=$1 now list
    now=$(date +%s)
    list="$(tn_client_ip r1):$TN_TICKET_PORT;$(tn_wan_ip r1):$TN_TICKET_PORT"
    {
        printf '\xff\xfe'
        printf '<?xml version="1.0" encoding="Unicode" ?>\r\n<UPLOADINFO TYPE="Escalated"><UPLOADDATA USERNAME="testnet" RCTICKET="65538,1,%s,*,testnet,*,*,kh" RCTICKETENCRYPTED="1" PassStub="RT=0PvIndan52*" DtStart="%s" DtLength="60" L="0"/></UPLOADINFO>\r\n' \
            "$list" "$now" | iconv -f UTF-8 -t UTF-16LE
    } >"$file"
}

# tn_ticket_forward on|off: a TCP port forwarding of TN_TICKET_PORT on
# router1 to client1, in the chain miniupnpd fills with its mappings.
tn_ticket_forward() {
    local chain="inet rnat prerouting_miniupnpd"
    tn_exec r1 nft flush chain $chain || return 1
    [ "$1" = on ] || return 0
    tn_exec r1 nft add rule $chain iifname wan tcp dport "$TN_TICKET_PORT" \
        dnat ip to "$(tn_client_ip r1):$TN_TICKET_PORT"
}

# tn_ticket_reach FORWARD OUT: the novice listens, the forwarding is set
# (on/off), the helper inspects the ticket with --reach; OUT gets the JSON.
# Prints "EXIT USABLE...": ranat's exit code and the endpoints it found
# usable.
tn_ticket_reach() {
    local forward=$1 out=$2 bin rc
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    load_profile r1 port_restricted_cone && load_profile r2 port_restricted_cone || return 1
    tn_ticket_forward "$forward" || return 1
    tn_ticket_write "$out.msrcincident" || return 1
    tn_spawn ticket-listener c1 socat "TCP-LISTEN:$TN_TICKET_PORT,reuseaddr,fork" SYSTEM:true || return 1
    local i
    for ((i = 0; i < 100; i++)); do
        tn_exec c1 ss -Hltn "sport = :$TN_TICKET_PORT" | grep -q . && break
        sleep 0.05
    done
    tn_exec c2 timeout 30 "$bin" ticket inspect "$out.msrcincident" --reach --reach-timeout 2 \
        --json -4 --no-portmap --no-teredo --server "${TN_SERVER_RANAT[0]}:3478" \
        >"$out.json" 2>"$out.stderr"
    rc=$?
    tn_stop ticket-listener
    tn_ticket_forward off
    echo "$rc $(jq -r '.reach.usable | join(" ")' "$out.json" 2>/dev/null)"
}
