#!/usr/bin/env bash
# Builds ranat's test bed and starts its servers; testnet/down.sh removes it.
# On any failure, or Ctrl-C, whatever was built is removed again.
#
#   testnet/up.sh [--stack ROUTER=cgnat|private]... [--profile ROUTER=PROFILE[:OPTION...]]...
#                 [--ipv6-profile ROUTER=PROFILE]... [--miniupnpd ROUTER]...
#                 [--delay ROUTER=MS] [--loss ROUTER=PERCENT] [--no-servers]
#
#   e.g. testnet/up.sh --profile r1=full_cone:hairpin --profile r2=symmetric_random \
#            --ipv6-profile r2=blocked --miniupnpd r1
#   (IPv6 profiles: see testnet/ipv6.sh; blocked is the default)
#   --stack r1=cgnat puts the ISP's NAT o1 in front of r1 (r1's WAN 100.64.1.2,
#   o1's 203.0.113.1), --stack r1=private the same with r1's WAN 172.16.1.2;
#   --profile o1=PROFILE sets the outer NAT's profile (see tn_stack in lib.sh).
#
# Then run things inside it with the printed prefix, e.g.
#   ip netns exec rn1234-c1 target/release/ranat probe -4 --server 198.51.100.10:3478 --teredo-server 198.51.100.40
set -euo pipefail
cd "$(dirname "$0")/.."
. testnet/lib.sh

usage() {
    sed -n '2,17s/^# \{0,1\}//p' "$0"
    exit 2
}

stacks=() profiles=() ipv6_profiles=() upnp=() delays=() losses=() servers=yes
while [ $# -gt 0 ]; do
    case $1 in
        --stack) stacks+=("${2:?--stack needs ROUTER=cgnat|private}"); shift 2 ;;
        --profile) profiles+=("${2:?--profile needs ROUTER=PROFILE}"); shift 2 ;;
        --ipv6-profile) ipv6_profiles+=("${2:?--ipv6-profile needs ROUTER=PROFILE}"); shift 2 ;;
        --miniupnpd) upnp+=("${2:?--miniupnpd needs a router}"); shift 2 ;;
        --delay) delays+=("${2:?--delay needs ROUTER=MS}"); shift 2 ;;
        --loss) losses+=("${2:?--loss needs ROUTER=PERCENT}"); shift 2 ;;
        --no-servers) servers=no; shift ;;
        -h | --help) usage ;;
        *) echo "up.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

# set -e ends the script at the first failure, even inside a function; the
# EXIT trap then removes whatever was built.
complete=no
trap '[ $complete = yes ] || { tn_log "failed or interrupted: removing the test bed"; tn_down; }' EXIT
trap 'exit 130' INT TERM

tn_up
for spec in "${stacks[@]}"; do tn_stack "${spec%%=*}" "${spec#*=}"; done
for spec in "${profiles[@]}"; do
    IFS=: read -r -a parts <<<"${spec#*=}"
    load_profile "${spec%%=*}" "${parts[@]}"
done
# After the IPv4 profiles (testnet/ipv6.sh says why).
for spec in "${ipv6_profiles[@]}"; do load_ipv6_profile "${spec%%=*}" "${spec#*=}"; done
for spec in "${losses[@]}"; do set_loss "${spec%%=*}" "${spec#*=}"; done
for spec in "${delays[@]}"; do set_delay "${spec%%=*}" "${spec#*=}"; done
[ "$servers" = yes ] && tn_start_servers
for router in "${upnp[@]}"; do tn_start_miniupnpd "$router"; done
complete=yes

cat <<EOF
testnet is up. Prefix: $TN_PREFIX   (state and logs: $TN_DIR)
  r1: $(cat "$TN_DIR/profile-r1"), IPv6 $(cat "$TN_DIR/profile6-r1")    client c1 = namespace $(tn_ns c1), $(tn_client_ip r1) and $(tn_client_ip6 r1)
  r2: $(cat "$TN_DIR/profile-r2"), IPv6 $(cat "$TN_DIR/profile6-r2")    client c2 = namespace $(tn_ns c2), $(tn_client_ip r2) and $(tn_client_ip6 r2)
  servers (namespace $(tn_ns srv)): ranat ${TN_SERVER_RANAT[*]}, coturn ${TN_SERVER_COTURN[*]},
    stund ${TN_SERVER_STUND[*]}, miredo-server ${TN_SERVER_MIREDO[*]}
    (IPv6: ranat serve ${TN_SERVER6_RANAT[*]}, coturn ${TN_SERVER6_COTURN[*]}; no daemon on ${TN_SERVER6_STUND[*]} ${TN_SERVER6_COTURN_RELAY[*]})
EOF
for router in r1 r2; do
    [ -n "$(tn_stack_kind "$router")" ] || continue
    echo "  $(tn_outer_of "$router"): outer NAT ($(tn_stack_kind "$router")) in front of $router, whose WAN is $(tn_wan_ip "$router"): $(cat "$TN_DIR/profile-$(tn_outer_of "$router")")"
done
echo "Remove it with: testnet/down.sh $TN_PREFIX"
