#!/usr/bin/env bash
# Builds ranat's test bed and starts its servers; testnet/down.sh removes it.
# On any failure, or Ctrl-C, whatever was built is removed again.
#
#   testnet/up.sh [--profile ROUTER=PROFILE[:OPTION...]]... [--ipv6-profile ROUTER=PROFILE]...
#                 [--miniupnpd ROUTER]... [--delay ROUTER=MS] [--loss ROUTER=PERCENT] [--no-servers]
#
#   e.g. testnet/up.sh --profile r1=full_cone:hairpin --profile r2=symmetric_random \
#            --ipv6-profile r2=blocked --miniupnpd r1
#   (IPv6 profiles: open, firewall (the default), blocked; see testnet/ipv6.sh)
#
# Then run things inside it with the printed prefix, e.g.
#   ip netns exec rn1234-c1 target/release/ranat probe -4 --server 198.51.100.10:3478 --teredo-server 198.51.100.40
set -euo pipefail
cd "$(dirname "$0")/.."
. testnet/lib.sh

usage() {
    sed -n '2,14s/^# \{0,1\}//p' "$0"
    exit 2
}

profiles=() ipv6_profiles=() upnp=() delays=() losses=() servers=yes
while [ $# -gt 0 ]; do
    case $1 in
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
    (IPv6 addresses, no daemon on them: ${TN_SERVER6_RANAT[*]} ${TN_SERVER6_COTURN[*]} ${TN_SERVER6_STUND[*]} ${TN_SERVER6_COTURN_RELAY[*]})
Remove it with: testnet/down.sh $TN_PREFIX
EOF
