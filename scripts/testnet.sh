#!/usr/bin/env bash
# Runs `ranat probe` in the network test bed (testnet/) behind every NAT
# profile and checks its report against what the profile is: the classic
# label, RFC 4787 mapping and filtering, hairpinning and port allocation.
# Each profile is probed three times in a row (a verdict that flips is a
# failure), then once more with 5 % loss on the router's WAN link.
#
#   scripts/testnet.sh [--anchors] [--runs N] [--loss PERCENT] [--only CASE]...
#
#   --anchors    rust-free self-check of the test bed: probe with Debian's
#                `stun` client (against stund) and coturn's
#                `turnutils_natdiscovery -m -f` (against coturn) instead of ranat
#   --runs N     probes in a row per profile (default 3)
#   --loss P     loss of the extra run, in percent (default 5, but 0 with
#                --anchors: turnutils_natdiscovery never retransmits, so loss fails it)
#   --only CASE  run only this case (repeatable; "punch", "trial",
#                "relay", "session", "ticket", "offline", "lifetime", "ipv6"
#                and "stacked" are the live punch checks, the end-to-end
#                trials, the relay trials, the Remote Assistance sessions
#                played in tmux (scripts/session-tmux.sh), Windows tickets
#                tried with `ticket inspect --reach`, the probe without a
#                network, without DNS and without a STUN answer (namespaces
#                of their own), the binding lifetime measured against r1's
#                conntrack timeouts, the test bed's IPv6 (router profiles
#                open/firewall/blocked; Rust-free, so also with --anchors),
#                and router1 behind a carrier's or a private outer NAT
#                (testnet/stacked.sh); "ipv6_probe" is ranat on IPv6: probe
#                -6 behind every IPv6 profile, dual-stack probes, trials over
#                IPv6 profile pairs
#
# ranat is $RANAT_BIN, else the newer of target/release/ranat and
# target/debug/ranat. Every probe's raw output is kept in $RANAT_TESTNET_OUT
# (default target/testnet). Needs root; without it, says SKIPPED and exits 0.
# The last line is "testnet: N passed, M failed"; the exit code is 1 if any
# case failed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "############################################################"
    echo "SKIPPED: testnet needs root"
    echo "  (it builds network namespaces; run scripts/testnet.sh as root)"
    echo "############################################################"
    exit 0
fi

usage() {
    sed -n '8,30s/^# \{0,1\}//p' "$0"
    exit 2
}

mode=ranat runs=3 loss='' only=()
while [ $# -gt 0 ]; do
    case $1 in
        --anchors) mode=anchors; shift ;;
        --runs) runs=${2:?}; shift 2 ;;
        --loss) loss=${2:?}; shift 2 ;;
        --only) only+=("${2:?}"); shift 2 ;;
        -h | --help) usage ;;
        *) echo "testnet.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[ -n "$loss" ] || { [ "$mode" = anchors ] && loss=0 || loss=5; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "testnet.sh: --runs takes a positive number" >&2; exit 2; }
[[ $loss =~ ^[0-9]+$ ]] && [ "$loss" -le 100 ] || { echo "testnet.sh: --loss takes 0-100" >&2; exit 2; }

. testnet/lib.sh
tn_check_case_names "${only[@]}" || exit 2

# abort MESSAGE: the test bed itself failed; that counts as one more failure.
abort() {
    echo "testnet: $*" >&2
    echo "testnet: ${passed:-0} passed, $((${failed:-0} + 1)) failed"
    exit 1
}

if [ "$mode" = ranat ]; then
    tools=(ranat)
    bin=$(tn_ranat_bin) || abort "no ranat binary: run cargo build (or set RANAT_BIN), or use --anchors"
    if ! tn_ranat_has probe || ! tn_ranat_has serve; then
        abort "$bin has no 'probe' or 'serve' command yet; use --anchors"
    fi
    echo "== testnet: ranat probe ($bin, $("$bin" --version 2>/dev/null))"
else
    tools=(stun natdiscovery)
    echo "== testnet: anchor self-check (stun against stund, turnutils_natdiscovery against coturn)"
fi

if ! command -v jq >/dev/null; then
    echo "== installing jq"
    install_jq() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }
    install_jq || { apt-get update -qq && install_jq; } || abort "jq is missing and could not be installed"
fi

out=${RANAT_TESTNET_OUT:-target/testnet}
rm -rf "$out"
mkdir -p "$out"

trap 'tn_save_evidence "$out/testnet"; tn_down' EXIT
trap 'echo "testnet: interrupted" >&2; exit 130' INT TERM

tn_up || abort "could not build the test bed"
if [ "$mode" = ranat ]; then
    tn_start_ranat_serve || abort "could not start ranat serve"
else
    { tn_start_stund && tn_start_coturn; } || abort "could not start stund and coturn"
fi

columns=()
for ((run = 1; run <= runs; run++)); do columns+=("run $run"); done
[ "$loss" -gt 0 ] && columns+=("$loss% loss")

passed=0 failed=0 details=() rows=()
started=$(date +%s)
for entry in "${TN_CASES[@]}"; do
    read -r name spec expected <<<"$entry"
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
        continue
    fi
    IFS=: read -r -a profile <<<"$spec"
    load_profile r1 "${profile[@]}" || abort "could not load profile $spec"
    cells=() case_ok=yes
    declare -A first_verdict=()
    for column in "${columns[@]}"; do
        run=${column// /}
        # Every run meets a NAT without mappings: a learned permission of
        # the run before, keyed on an external port, would otherwise admit
        # the next run's filtering test whenever the kernel hands out the
        # same local port again, and fake endpoint-independent filtering.
        tn_reset_nat r1 || abort "could not reset the NAT"
        [ "$column" = "$loss% loss" ] && { set_loss r1 "$loss" || abort "could not set loss"; run=loss; }
        cell=ok slowest=0
        for tool in "${tools[@]}"; do
            result=$(tn_probe_timed "$tool" c1 "$out/$name-$run-$tool")
            verdict=${result% *} ms=${result##* }
            [ "$ms" -gt "$slowest" ] && slowest=$ms
            if ! diff=$(tn_compare "$expected" "$verdict"); then
                cell=FAIL case_ok=no
                details+=("$name, $column, $tool: got $diff  (expected $(tn_short "$expected"); output in $out/$name-$run-$tool.*)")
            fi
            if [ "$run" != loss ]; then
                if [ -z "${first_verdict[$tool]:-}" ]; then
                    first_verdict[$tool]=$verdict
                elif [ "${first_verdict[$tool]}" != "$verdict" ]; then
                    cell=FLIP case_ok=no
                    details+=("$name, $column, $tool: verdict flipped from '$(tn_short "${first_verdict[$tool]}")' to '$(tn_short "$verdict")'")
                fi
            fi
        done
        cells+=("$cell $(awk -v ms="$slowest" 'BEGIN { printf "%.1fs", ms / 1000 }')")
        [ "$run" = loss ] && set_loss r1 0
    done
    unset first_verdict
    if [ $case_ok = yes ]; then
        passed=$((passed + 1)) result=PASS
    else
        failed=$((failed + 1)) result=FAIL
    fi
    rows+=("$(printf '%-21s %-58s' "$name" "$(tn_short "$expected")")$(printf ' %-10s' "${cells[@]}") $result")
    echo "   $name: $result" >&2
done

# The test bed's other services, checked with their own clients (--anchors):
# miniupnpd on r2 (a UPnP IGD mapping that a datagram from the internet then
# crosses, and a NAT-PMP mapping) and a miredo Teredo client in c2 qualifying
# with miredo-server.
upnp_check() {
    tn_start_miniupnpd r2 || return 1
    tn_exec c2 timeout 10 upnpc -i -a "$(tn_client_ip r2)" 4000 4000 UDP || return 1
    tn_exec c2 timeout 5 tcpdump -c 1 -ni eth0 'udp dst port 4000' &
    local capture=$!
    sleep 1
    tn_exec srv bash -c "echo through-upnp >/dev/udp/$(tn_wan_ip r2)/4000"
    wait $capture
}
natpmp_check() {
    tn_exec c2 timeout 10 natpmpc -g "$(tn_router_lan_ip r2)" -a 4001 4001 udp 60 | tee /dev/stderr |
        grep -q 'Mapped public port 4001 protocol UDP to local port 4001'
}
service() {
    local name=$1 description=$2 result
    shift 2
    if "$@" >"$out/service-$name.log" 2>&1; then
        passed=$((passed + 1)) result=PASS
    else
        failed=$((failed + 1)) result=FAIL
        details+=("$name: failed, see $out/service-$name.log")
    fi
    rows+=("$(printf '%-21s %-58s %-10s' "$name" "$description" "${result/PASS/ok}") $result")
    echo "   $name: $result" >&2
}
# ranat's own gateway checks behind every profile: UPnP, PCP / NAT-PMP and
# Teredo against the real miniupnpd on r2 and miredo-server, and the router's
# rules once ranat is done (testnet/gateway.sh).
gateway_cases() {
    local entry name profile expected observed diff
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${TN_GATEWAY_CASES[@]}" | awk '{ print $1 }' |
        grep -qxF -f <(printf '%s\n' "${only[@]}"); then
        return 0
    fi
    load_profile r2 public || abort "could not load a profile into r2"
    tn_start_miniupnpd r2 || abort "could not start miniupnpd on r2"
    tn_start_miredo_server || abort "could not start miredo-server"
    for entry in "${TN_GATEWAY_CASES[@]}"; do
        read -r name profile expected <<<"$entry"
        if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
            continue
        fi
        IFS=: read -r -a spec <<<"$profile"
        load_profile r2 "${spec[@]}" || abort "could not load profile $profile into r2"
        local start=$(date +%s%N)
        observed=$(tn_gateway_probe c2 r2 "$out/gateway-$name.json")
        local ms=$((($(date +%s%N) - start) / 1000000))
        if diff=$(tn_gateway_compare "$expected" "$observed"); then
            passed=$((passed + 1)) result=PASS
        else
            failed=$((failed + 1)) result=FAIL
            details+=("gateway $name: got $diff  (expected $expected; output in $out/gateway-$name.json*)")
        fi
        rows+=("$(printf '%-21s %-58s' "gw:$name" "$expected")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $result")
        echo "   gateway $name: $result" >&2
    done
}
# With miredo running in c2, ranat reports the host's own Teredo interface.
existing_teredo() {
    tn_start_miredo_client c2 || return 1
    tn_gateway_probe c2 r2 "$out/gateway-existing-teredo.json" >/dev/null
    jq -e '.teredo.existing_interface.name == "teredo"
           and (.teredo.existing_interface.address | startswith("2001:0:"))' \
        "$out/gateway-existing-teredo.json"
}
# Whether --only selected CASE (everything is selected without --only).
selected() {
    [ ${#only[@]} -eq 0 ] || printf '%s\n' "${only[@]}" | grep -qxF "$1"
}

# Live punch checks (`ranat check --via`, testnet/punch.sh), each against its
# own prediction: every pair of NAT profiles with --only punch; otherwise one
# pair, as the check's smoke test (the trials below punch every pair). The
# markdown table goes to $out/punch-table.md.
punch_cases() {
    local i j p1 p2 result verdict table="$out/punch-table.md"
    printf '| client1 behind | client2 behind | predicted | observed (c1 / c2) | |\n|---|---|---|---|---|\n' >"$table"
    selected punch || return 0
    local all=no
    [ ${#only[@]} -gt 0 ] && all=yes
    for ((i = 0; i < ${#TN_PROFILES[@]}; i++)); do
        for ((j = i; j < ${#TN_PROFILES[@]}; j++)); do
            p1=${TN_PROFILES[i]} p2=${TN_PROFILES[j]}
            local name="punch:$p1+$p2"
            if [ $all = no ] && [ "$p1+$p2" != port_restricted_cone+symmetric_sequential ]; then
                continue
            fi
            local start=$(date +%s%N)
            result=$(tn_punch_trial "$p1" "$p2" "$out/punch-$p1-$p2")
            local ms=$((($(date +%s%N) - start) / 1000000))
            if tn_punch_agrees "$result"; then
                passed=$((passed + 1)) verdict=PASS
            else
                failed=$((failed + 1)) verdict=FAIL
                details+=("$name: expected/observed $result (output in $out/punch-$p1-$p2-*)")
            fi
            read -r e o1 o2 <<<"$result"
            printf '| %s | %s | %s | %s / %s | %s |\n' "$p1" "$p2" "$e" "$o1" "$o2" "$verdict" >>"$table"
            rows+=("$(printf '%-21s %-58s' "$p1+$p2" "punch: predicted $e, observed $o1/$o2")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
            echo "   $name: $verdict" >&2
        done
    done
}
# One live trial (testnet/trial.sh): NAME, the profiles, and the rendezvous
# (default: ranat serve's). Adds a row and a line of $out/trial-table.md.
trial_case() {
    local name=$1 p1=$2 p2=$3 via=${4:-} file result verdict start ms
    file="$out/${name//[:+@ ]/-}"
    start=$(date +%s%N)
    result=$(tn_trial "$p1" "$p2" "$file" $via)
    ms=$((($(date +%s%N) - start) / 1000000))
    if tn_trial_agrees "$result"; then
        passed=$((passed + 1)) verdict=PASS
    else
        failed=$((failed + 1)) verdict=FAIL
        details+=("$name: expected/outcomes/paths $result (output in $file-*)")
    fi
    local e o1 o2 k1 k2 figures
    read -r e o1 o2 k1 k2 <<<"$result"
    figures=$(tn_trial_figures "$file")
    printf '| %s | %s | %s | %s | %s / %s | %s / %s | %s | %s |\n' \
        "$p1" "$p2" "${name%%:*}" "$e" "$o1" "$o2" "$k1" "$k2" "$figures" "$verdict" >>"$out/trial-table.md"
    rows+=("$(printf '%-21s %-58s' "$name" "trial: predicted $e, $o1/$o2 ($k1/$k2)")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
    echo "   $name: $verdict ($figures)" >&2
}

# The port-mapped candidate (testnet/trial.sh tn_trial_mapped): client2
# maps its punch socket on router2's real miniupnpd, so that a pair of
# symmetric (random) NATs, which otherwise needs the relay, connects
# directly over the mapped path; router2's miniupnpd chains and lease file
# are empty afterwards. (The prediction still says "relay": it counts the
# punch without port mapping.)
trial_mapped_case() {
    local name="trial@upnp:symmetric_random+symmetric_random" file result verdict start ms
    file="$out/${name//[:+@ ]/-}"
    start=$(date +%s%N)
    result=$(tn_trial_mapped symmetric_random symmetric_random "$file")
    ms=$((($(date +%s%N) - start) / 1000000))
    local e o1 o2 k1 k2 sent clean figures
    read -r e o1 o2 k1 k2 sent clean <<<"$result"
    if [ "$o1/$o2/$k1/$sent/$clean" = direct/direct/mapped/yes/yes ]; then
        passed=$((passed + 1)) verdict=PASS
    else
        failed=$((failed + 1)) verdict=FAIL
        details+=("$name: expected/outcomes/paths/mapped candidate/gateway clean $result, want direct/direct/mapped/yes/yes (output in $file*)")
    fi
    figures=$(tn_trial_figures "$file")
    printf '| %s | %s (UPnP router) | %s | %s | %s / %s | %s / %s | %s | %s |\n' \
        symmetric_random symmetric_random "${name%%:*}" "$e" "$o1" "$o2" "$k1" "$k2" "$figures" "$verdict" >>"$out/trial-table.md"
    rows+=("$(printf '%-21s %-58s' "$name" "trial: $o1/$o2 ($k1/$k2), mapped $sent, removed $clean")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
    echo "   $name: $verdict ($figures)" >&2
}

# The session's IPv6 host candidates: two clients behind symmetric (random)
# NATs, which over IPv4 need the relay, and behind IPv6 home-router
# firewalls (address-and-port-dependent filtering) connect directly over
# IPv6, each to the other's address in its router's LAN prefix. (The
# prediction still says "relay": it counts the IPv4 punch only.)
trial_ipv6_case() {
    local name="trial@ipv6:symmetric_random+symmetric_random" file result verdict start ms
    file="$out/${name//[:+@ ]/-}"
    { load_ipv6_profile r1 firewall && load_ipv6_profile r2 firewall; } || abort "could not load IPv6 profiles"
    start=$(date +%s%N)
    result=$(tn_trial symmetric_random symmetric_random "$file")
    ms=$((($(date +%s%N) - start) / 1000000))
    { load_ipv6_profile r1 "$TN_IPV6_PROFILE_DEFAULT" && load_ipv6_profile r2 "$TN_IPV6_PROFILE_DEFAULT"; } ||
        abort "could not restore the IPv6 profiles"
    local e o1 o2 k1 k2 f1 f2 r1 r2 figures
    read -r e o1 o2 k1 k2 <<<"$result"
    f1=$(_tn_trial_field "$file-c1.json" .path.family -)
    f2=$(_tn_trial_field "$file-c2.json" .path.family -)
    r1=$(_tn_trial_field "$file-c1.json" .path.remote -)
    r2=$(_tn_trial_field "$file-c2.json" .path.remote -)
    if [ "$o1/$o2/$k1/$k2/$f1/$f2" = direct/direct/host/host/IPv6/IPv6 ] &&
        [[ $r1 == "[$(tn_client_ip6 r2)]:"* && $r2 == "[$(tn_client_ip6 r1)]:"* ]]; then
        passed=$((passed + 1)) verdict=PASS
    else
        failed=$((failed + 1)) verdict=FAIL
        details+=("$name: outcomes/kinds/families $o1/$o2/$k1/$k2/$f1/$f2 to $r1 / $r2, want direct/direct/host/host/IPv6/IPv6 to each other's IPv6 address (output in $file*)")
    fi
    figures=$(tn_trial_figures "$file")
    printf '| %s | %s (IPv6 firewalls) | %s | %s | %s / %s | %s %s / %s %s | %s | %s |\n' \
        symmetric_random symmetric_random "${name%%:*}" "$e" "$o1" "$o2" "$k1" "$f1" "$k2" "$f2" "$figures" "$verdict" >>"$out/trial-table.md"
    rows+=("$(printf '%-21s %-58s' "$name" "trial: $o1/$o2 ($k1 $f1/$k2 $f2)")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
    echo "   $name: $verdict ($figures)" >&2
}

# Live end-to-end trials: every pair of NAT profiles must connect, directly
# where the punch is predicted to connect and through ranat serve's relay
# otherwise; then the port-mapped pair; then a few pairs at 50 ms more
# round trip, at 5 % loss, and once with coturn as the relay.
trial_cases() {
    selected trial || return 0
    tn_ranat_has trial || abort "$bin has no 'trial' command"
    local i j
    printf '| client1 behind | client2 behind | run | predicted | outcome (c1 / c2) | path (c1 / c2) | figures (c1) | |\n|---|---|---|---|---|---|---|---|\n' \
        >"$out/trial-table.md"
    for ((i = 0; i < ${#TN_PROFILES[@]}; i++)); do
        for ((j = i; j < ${#TN_PROFILES[@]}; j++)); do
            trial_case "trial:${TN_PROFILES[i]}+${TN_PROFILES[j]}" "${TN_PROFILES[i]}" "${TN_PROFILES[j]}"
        done
    done
    trial_mapped_case
    trial_ipv6_case
    set_delay r1 25 || abort "could not delay r1"
    TN_TRIAL_AUTO_APPROVE=yes trial_case "trial@50ms:full_cone+port_restricted_cone" full_cone port_restricted_cone
    TN_TRIAL_AUTO_APPROVE=yes trial_case "trial@50ms:symmetric_random+symmetric_random" symmetric_random symmetric_random
    set_delay r1 0
    set_loss r1 5 || abort "could not set loss"
    trial_case "trial@5%:restricted_cone+symmetric_sequential" restricted_cone symmetric_sequential
    trial_case "trial@5%:udp_blocked+port_restricted_cone" udp_blocked port_restricted_cone
    set_loss r1 0
    [ -e "$TN_DIR/pids/coturn-relay" ] || tn_start_coturn_relay || abort "could not start coturn as a relay"
    tn_start_ranat_serve_offering_coturn || abort "could not start a rendezvous offering coturn"
    trial_case "trial@coturn:udp_blocked+symmetric_random" udp_blocked symmetric_random "$TN_TRIAL_COTURN_VIA"
}

# Relay trials (testnet/relay.sh): c1 behind udp_blocked over TCP and c2
# behind symmetric_random over UDP exchange pings relayed address to relayed
# address, through ranat serve and through coturn.
relay_cases() {
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF relay; then
        return 0
    fi
    tn_ranat_has relay-test || abort "$bin has no 'relay-test' command"
    [ -e "$TN_DIR/pids/coturn-relay" ] || tn_start_coturn_relay || abort "could not start coturn as a relay"
    local entry name server result udp_rc c1_rc c2_rc verdict
    for entry in "ranat ${TN_SERVER_RANAT[0]}:3478" "coturn ${TN_SERVER_COTURN_RELAY[0]}:3478"; do
        read -r name server <<<"$entry"
        local start=$(date +%s%N)
        result=$(tn_relay_trial "$server" "$out/relay-$name")
        local ms=$((($(date +%s%N) - start) / 1000000))
        read -r udp_rc c1_rc c2_rc <<<"$result"
        if [ "$result" = "30 0 0" ]; then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("relay:$name: exit codes c1 over UDP/c1 over TCP/c2 $result, want 30 0 0 (output in $out/relay-$name-*)")
        fi
        echo "   relay:$name: $(tn_relay_summary "$out/relay-$name")$verdict" >&2
        rows+=("$(printf '%-21s %-58s' "relay:$name" "c1 udp_blocked (TCP) <-> c2 symmetric_random (UDP)")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
    done
    # A public port handed on while its allocation lives: 437, then a new
    # socket (testnet/relay.sh tn_relay_mismatch), on both relays.
    local first second rc
    for entry in "ranat ${TN_SERVER_RANAT[0]}:3478" "coturn ${TN_SERVER_COTURN_RELAY[0]}:3478"; do
        read -r name server <<<"$entry"
        local start=$(date +%s%N)
        result=$(tn_relay_mismatch "$server" "$out/relay-mismatch-$name") || abort "could not set up relay:mismatch:$name"
        local ms=$((($(date +%s%N) - start) / 1000000))
        read -r first second rc <<<"$result"
        if [ "$rc" = 0 ] && [ "$first" != - ] && [ "$second" != - ] && [ "$first" != "$second" ]; then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("relay:mismatch:$name: relayed addresses/exit code $result, want two addresses and 0 (output in $out/relay-mismatch-$name-*)")
        fi
        echo "   relay:mismatch:$name: $verdict ($result)" >&2
        rows+=("$(printf '%-21s %-58s' "relay:mismatch:$name" "c2 sequential NAT reuses a held port: $first, then $second")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
    done
}
# Remote Assistance sessions (testnet/session.sh): scripts/session-tmux.sh
# plays the novice on c1 and the expert on c2 in tmux through the whole
# session; a direct pair, and a pair that needs ranat serve's relay. Each
# passes when every step of the script passed and the expert's status line
# showed the expected kind of path.
session_cases() {
    selected session || return 0
    { tn_ranat_has invite && tn_ranat_has assist; } || abort "$bin has no 'invite' or 'assist' command"
    command -v tmux >/dev/null || abort "the session cases need tmux (Debian: tmux; scripts/test.sh installs it)"
    local entry name p1 p2 expected file result verdict start ms rc path
    for entry in "session:full_cone+port_restricted_cone full_cone port_restricted_cone direct" \
        "session:symmetric_random+symmetric_random symmetric_random symmetric_random relay"; do
        read -r name p1 p2 expected <<<"$entry"
        file="$out/${name//[:+@ ]/-}"
        start=$(date +%s%N)
        result=$(tn_session "$p1" "$p2" "$file" "$expected") || abort "could not set up $name"
        ms=$((($(date +%s%N) - start) / 1000000))
        read -r rc path <<<"$result"
        if tn_session_agrees "$expected" "$result"; then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("$name: exit $rc, path '$path' (want $expected): $(tn_session_failure "$file")  (steps and panes in $file/)")
        fi
        rows+=("$(printf '%-21s %-58s' "$name" "session in tmux: want $expected, expert saw '$path'")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
        echo "   $name: $verdict (path $path, $(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }') s)" >&2
    done
}
# Windows Remote Assistance tickets (testnet/ticket.sh): the helper on c2
# tries a ticket of c1's with `ranat ticket inspect --reach`; behind
# port-restricted cone NATs nothing is reachable until router1 forwards the
# port, and then exactly its public address is.
ticket_cases() {
    selected ticket || return 0
    tn_ranat_has ticket || abort "$bin has no 'ticket' command"
    command -v socat >/dev/null || abort "the ticket cases need socat (scripts/test.sh installs it)"
    local entry name forward expected result verdict start ms
    for entry in "ticket:no_forward off 51" "ticket:forwarded on 0 $(tn_wan_ip r1):$TN_TICKET_PORT"; do
        read -r name forward expected <<<"$entry"
        start=$(date +%s%N)
        result=$(tn_ticket_reach "$forward" "$out/${name//:/-}") || abort "could not set up $name"
        ms=$((($(date +%s%N) - start) / 1000000))
        if [ "$result" = "$expected" ] || [ "$result" = "$expected " ]; then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("$name: got '$result', want '$expected' (output in $out/${name//:/-}.json)")
        fi
        rows+=("$(printf '%-21s %-58s' "$name" "c2 tries c1's ticket, r1 port forward $forward")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
        echo "   $name: $verdict ($result)" >&2
    done
}
# Stacked NATs (testnet/stacked.sh): client1 behind router1 behind an outer
# NAT o1, a carrier's (router1's WAN in 100.64.0.0/10) and a private one
# (172.16.1.0/24), router1 running miniupnpd: the complete probe's
# classification, NAT layers, port mappings (tested from outside) and
# Teredo; then punch pairs with client2 behind router2. Leaves router1
# unstacked, with port_restricted_cone.
stacked_cases() {
    selected stacked || return 0
    [ -e "$TN_DIR/pids/miredo-server" ] || tn_start_miredo_server || abort "could not start miredo-server"
    local entry name kind outer inner expected observed diff verdict start ms
    for entry in "${TN_STACKED_CASES[@]}"; do
        read -r name kind outer inner expected <<<"$entry"
        { tn_stacked_setup "$name" && tn_start_miniupnpd r1; } || abort "could not stack $name"
        start=$(date +%s%N)
        observed=$(tn_stacked_probe "$out/stacked-$name.json")
        ms=$((($(date +%s%N) - start) / 1000000))
        if diff=$(tn_stacked_compare "$expected" "$observed"); then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("stacked:$name: got $diff  (output in $out/stacked-$name.json*)")
        fi
        jq -r '.topology.evidence[] | "      evidence: " + .' "$out/stacked-$name.json" >&2
        read -r -a fields <<<"$observed"
        rows+=("$(printf '%-21s %-58s' "stacked:$name" "$outer > $inner: $(tn_short "${fields[*]:0:6}"), ${fields[*]:6}")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
        echo "   stacked:$name: $verdict ($observed)" >&2
    done
    local p2 want result
    for entry in "${TN_STACKED_PUNCHES[@]}"; do
        read -r name p2 want <<<"$entry"
        tn_stacked_setup "$name" || abort "could not stack $name"
        inner=$(printf '%s\n' "${TN_STACKED_CASES[@]}" | awk -v n="$name" '$1 == n { print $4 }')
        start=$(date +%s%N)
        result=$(tn_punch_trial "$inner" "$p2" "$out/stacked-punch-$name-$p2")
        ms=$((($(date +%s%N) - start) / 1000000))
        read -r e o1 o2 <<<"$result"
        if [ "$e" = "$want" ] && tn_punch_agrees "$result"; then
            passed=$((passed + 1)) verdict=PASS
        else
            failed=$((failed + 1)) verdict=FAIL
            details+=("stacked-punch:$name+$p2: expected/observed $result, want $want (output in $out/stacked-punch-$name-$p2-*)")
        fi
        rows+=("$(printf '%-21s %-58s' "stacked:$name+$p2" "punch: want $want, predicted $e, observed $o1/$o2")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $verdict")
        echo "   stacked-punch:$name+$p2: $verdict ($result)" >&2
    done
    { tn_unstack r1 && load_profile r1 port_restricted_cone && load_profile r2 port_restricted_cone; } ||
        abort "could not unstack r1"
}
# The probe's first hop (testnet/offline.sh): in namespaces of their own,
# no route at all is no_network (13), a route without an answering DNS
# server is dns_failed (14), and a name dnsmasq resolves to an address
# where no STUN server listens is udp_blocked (11); the table says so in
# its own words and never shows a resolver's internals.
offline_cases() {
    selected offline || return 0
    command -v dnsmasq >/dev/null || abort "the offline cases need dnsmasq (Debian: dnsmasq-base; scripts/test.sh installs it)"
    local entry name code verdict hop status phrase expected result outcome start ms
    for entry in "${TN_OFFLINE_CASES[@]}"; do
        read -r name code verdict hop status phrase <<<"$entry"
        expected="$code $verdict $hop $status said"
        start=$(date +%s%N)
        result=$(tn_offline_probe "$name" "$phrase" "$out/offline-$name") || abort "could not set up offline:$name"
        ms=$((($(date +%s%N) - start) / 1000000))
        if [ "$result" = "$expected" ]; then
            passed=$((passed + 1)) outcome=PASS
        else
            failed=$((failed + 1)) outcome=FAIL
            details+=("offline:$name: got '$result', want '$expected' (output in $out/offline-$name.*)")
        fi
        rows+=("$(printf '%-21s %-58s' "offline:$name" "exit $code, $verdict, first hop $hop")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $outcome")
        echo "   offline:$name: $outcome ($result)" >&2
    done
}
# The binding lifetime (RFC 5780 §4.6, `ranat probe --lifetime`): r1 is
# port_restricted_cone with its conntrack UDP timeouts set to L seconds;
# the bracket measured must hold L and be at most 1 s wide. Each side has a
# margin: alive_s may read up to 0.05 s past L, since the report rounds to
# 10 ms and conntrack counts its timeouts in jiffies (a mapping outlives L
# by up to a tick, 10 ms at HZ=100; CI once measured 4.00 s alive for L=4);
# expired_s may read 0.1 s short of L, the scheduling of the last request.
# The bound of 20 s keeps a NAT that never expires to one 20 s round.
lifetime_cases() {
    selected lifetime || return 0
    local configured name result status alive expired outcome start ms
    for configured in 8 4; do
        name=lifetime:$configured
        { load_profile r1 port_restricted_cone "lifetime=$configured" && tn_reset_nat r1; } ||
            abort "could not load port_restricted_cone lifetime=$configured"
        start=$(date +%s%N)
        result=$(tn_probe_lifetime c1 "$out/lifetime-$configured.json" 20)
        ms=$((($(date +%s%N) - start) / 1000000))
        read -r status alive expired <<<"$result"
        if [ "$status" = measured ] && awk -v l="$configured" -v a="$alive" -v e="$expired" \
            'BEGIN { exit !(a < l + 0.05 && e >= l - 0.1 && e - a <= 1) }'; then
            passed=$((passed + 1)) outcome=PASS
        else
            failed=$((failed + 1)) outcome=FAIL
            details+=("$name: got '$result', want measured with alive < $configured + 0.05 and expired >= $configured - 0.1, 1 s wide (output in $out/lifetime-$configured.json*)")
        fi
        rows+=("$(printf '%-21s %-58s' "$name" "port_restricted_cone, ${configured} s: alive $alive s, expired $expired s")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $outcome")
        echo "   $name: $outcome ($result)" >&2
    done
    load_profile r1 port_restricted_cone || abort "could not restore r1's profile"
}
# NAT behaviour over TCP (testnet/tcp.sh): ranat probe --tcp behind
# profiles whose TCP mapping differs, then simultaneous-open TCP punches
# between the clients, each against what the two probes judged of it.
tcp_cases() {
    selected tcp || return 0
    command -v socat >/dev/null || abort "the tcp cases need socat (scripts/test.sh installs it)"
    local profile name result expected start ms outcome
    for profile in public udp_blocked port_restricted_cone symmetric_random symmetric_sequential; do
        name=tcp:$profile
        { load_profile r1 "$profile" && tn_reset_nat r1; } || abort "could not load $profile"
        expected=$(tn_tcp_expected "$profile")
        start=$(date +%s%N)
        result=$(tn_tcp_probe c1 "$out/tcp-$profile")
        ms=$((($(date +%s%N) - start) / 1000000))
        if [ "$result" = "$expected" ]; then
            passed=$((passed + 1)) outcome=PASS
        else
            failed=$((failed + 1)) outcome=FAIL
            details+=("$name: got '$result', want '$expected' (output in $out/tcp-$profile.json)")
        fi
        rows+=("$(printf '%-21s %-58s' "$name" "probe --tcp: $result")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $outcome")
        echo "   $name: $outcome ($result)" >&2
    done
    local p1 p2 v1 v2 c1 c2 want
    for pair in "port_restricted_cone port_restricted_cone" "symmetric_random port_restricted_cone"; do
        read -r p1 p2 <<<"$pair"
        name="tcp_punch:$p1+$p2"
        start=$(date +%s%N)
        result=$(tn_tcp_punch "$p1" "$p2" "$out/tcp-punch-$p1-$p2") || abort "could not set up $name"
        ms=$((($(date +%s%N) - start) / 1000000))
        read -r v1 v2 c1 c2 <<<"$result"
        want=no
        [ "$v1" = possible ] && [ "$v2" = possible ] && want=yes
        if [ "$c1" = "$want" ] && [ "$c2" = "$want" ] && [ "$v1" != unknown ] && [ "$v2" != unknown ]; then
            passed=$((passed + 1)) outcome=PASS
        else
            failed=$((failed + 1)) outcome=FAIL
            details+=("$name: judged $v1/$v2, connected $c1/$c2, want $want (output in $out/tcp-punch-$p1-$p2-*)")
        fi
        rows+=("$(printf '%-21s %-58s' "$name" "simultaneous open judged $v1/$v2, connected $c1/$c2")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $outcome")
        echo "   $name: $outcome ($result)" >&2
    done
    for r in r1 r2; do
        load_profile "$r" port_restricted_cone || abort "could not restore $r's profile"
    done
}
# The test bed's IPv6 (testnet/ipv6.sh), in either mode: the clients reach
# the servers through "firewall" routers, which drop what is unsolicited and
# let a UDP punch between c1 and c2 through, in order and simultaneously;
# "open" lets everything through, "blocked" nothing. The IPv6 profiles are
# loaded first and the IPv4 ones after them (r1 udp_blocked, which must not
# touch IPv6): the IPv6 tables must survive that. Leaves the routers as
# tn_up made them.
ipv6_case() {
    local name=$1 description=$2 start ms result
    shift 2
    start=$(date +%s%N)
    if "$@" >"$out/ipv6-$name.log" 2>&1; then
        passed=$((passed + 1)) result=PASS
    else
        failed=$((failed + 1)) result=FAIL
        details+=("ipv6:$name: $(grep -m1 '^WRONG' "$out/ipv6-$name.log" || echo failed)  (see $out/ipv6-$name.log)")
    fi
    ms=$((($(date +%s%N) - start) / 1000000))
    rows+=("$(printf '%-21s %-58s' "ipv6:$name" "$description")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $result")
    echo "   ipv6:$name: $result" >&2
}
ipv6_cases() {
    selected ipv6 || return 0
    command -v socat >/dev/null && command -v ping >/dev/null ||
        abort "the IPv6 checks need socat and ping (Debian: socat iputils-ping; scripts/test.sh installs them)"
    local r
    for r in r1 r2; do
        load_ipv6_profile "$r" firewall || abort "could not load IPv6 profile firewall into $r"
    done
    { load_profile r1 udp_blocked && load_profile r2 symmetric_random; } || abort "could not load IPv4 profiles"
    { load_ipv6_profile r1 firewall && load_ipv6_profile r2 firewall; } || abort "could not load IPv6 profiles"
    ipv6_case reach "firewall: c1, c2 ping two servers" tn_ipv6_check_reach
    ipv6_case beside_ipv4 "r1 udp_blocked (IPv4): UDP c1->srv v4 dropped, v6 passes" tn_ipv6_check_beside_ipv4
    ipv6_case unsolicited "firewall: srv->c1, c2->c1 UDP and ping dropped" tn_ipv6_check_unsolicited
    ipv6_case punch "firewall both: c1->c2 dropped, c2->c1, c1->c2 pass; APDF" tn_ipv6_check_punch
    ipv6_case simultaneous "firewall both: simultaneous UDP punch c1<->c2 connects" tn_ipv6_check_simultaneous
    load_ipv6_profile r1 open || abort "could not load IPv6 profile open into r1"
    ipv6_case open "r1 open: srv->c1, c2->c1 pass; c1->c2 (firewall) dropped" tn_ipv6_check_open
    for r in r1 r2; do
        load_ipv6_profile "$r" blocked || abort "could not load IPv6 profile blocked into $r"
    done
    ipv6_case blocked "blocked both: no ping to servers, no punch, nothing in" tn_ipv6_check_blocked
    for r in r1 r2; do
        { load_profile "$r" port_restricted_cone && load_ipv6_profile "$r" "$TN_IPV6_PROFILE_DEFAULT"; } ||
            abort "could not restore $r's profiles"
    done
}

# ranat on IPv6 (testnet/ipv6.sh, "--only ipv6_probe"): probe -6 behind
# every IPv6 profile of r1, against ranat serve and coturn on IPv6; dual-
# stack probes whose families are set apart; live trials between IPv6
# profile pairs (IPv4 symmetric on both sides, so only IPv6 can be direct)
# whose path must be the one the IPv6 method predicted.
ipv6_row() {
    local name=$1 description=$2 ok=$3 ms=$4 detail=$5 result
    if [ "$ok" = yes ]; then
        passed=$((passed + 1)) result=PASS
    else
        failed=$((failed + 1)) result=FAIL
        details+=("$name: $detail")
    fi
    rows+=("$(printf '%-21s %-58s' "$name" "$description")$(printf ' %-10s' "$(awk -v ms="$ms" 'BEGIN { printf "%.1fs", ms / 1000 }')") $result")
    echo "   $name: $result" >&2
}
ipv6_probe_cases() {
    selected ipv6_probe || return 0
    local entry profile status classic mapping filtering mapped server who want got start ok code
    [ -e "$TN_DIR/pids/coturn6" ] || tn_start_coturn_on coturn6 "${TN_SERVER6_COTURN[@]}" || abort "could not start coturn on IPv6"
    load_profile r1 port_restricted_cone || abort "could not load an IPv4 profile"
    for entry in "${TN_IPV6_PROBE_CASES[@]}"; do
        read -r profile status classic mapping filtering mapped <<<"$entry"
        load_ipv6_profile r1 "$profile" || abort "could not load IPv6 profile $profile"
        case $status in ok) code=0 ;; udp_blocked) code=11 ;; *) code=13 ;; esac
        want="$status $classic $mapping $filtering $mapped $code"
        for server in "ranat [${TN_SERVER6_RANAT[0]}]:3478" "coturn [${TN_SERVER6_COTURN[0]}]:3478"; do
            read -r who server <<<"$server"
            start=$(date +%s%N)
            got=$(tn_ipv6_probe c1 "$server" "$out/ipv6-probe-$profile-$who.json")
            ok=no
            [ "$got" = "$want" ] && ok=yes
            ipv6_row "v6:$profile@$who" "$(tn_short "$status $classic $mapping $filtering - -") mapped $mapped, exit $code" \
                $ok $((($(date +%s%N) - start) / 1000000)) "got '$got', want '$want' (output in $out/ipv6-probe-$profile-$who.json)"
        done
    done
    local v4 v6 expected
    for entry in "symmetric_random firewall traversal_friendly 0 v4 ok symmetric address_and_port_dependent address_and_port_dependent v6 ok symmetric_udp_firewall endpoint_independent address_and_port_dependent" \
        "udp_blocked nptv6 traversal_friendly 0 v4 udp_blocked udp_blocked null null v6 ok full_cone endpoint_independent endpoint_independent" \
        "port_restricted_cone none traversal_friendly 0 v4 ok port_restricted_cone endpoint_independent address_and_port_dependent v6 unavailable inconclusive null null" \
        "udp_blocked udp_blocked udp_blocked 11 v4 udp_blocked udp_blocked null null v6 udp_blocked udp_blocked null null"; do
        read -r v4 v6 expected <<<"$entry"
        { load_profile r1 "$v4" && load_ipv6_profile r1 "$v6"; } || abort "could not load $v4 / $v6"
        start=$(date +%s%N)
        got=$(tn_ipv6_dual_probe c1 "$out/ipv6-dual-$v4-$v6.json")
        ok=no
        [ "$got" = "$expected" ] && ok=yes
        ipv6_row "dual:$v4+$v6" "dual-stack: ${expected%% v4 *}, each family its own" $ok \
            $((($(date +%s%N) - start) / 1000000)) "got '$got', want '$expected' (output in $out/ipv6-dual-$v4-$v6.json)"
    done
    local p1 p2 result file r
    for entry in "${TN_IPV6_TRIAL_PAIRS[@]}"; do
        read -r p1 p2 <<<"$entry"
        file="$out/ipv6-trial-$p1-$p2"
        start=$(date +%s%N)
        result=$(tn_ipv6_trial "$p1" "$p2" "$file") || abort "could not load IPv6 profiles $p1 / $p2"
        ok=no
        tn_ipv6_trial_agrees "$result" && ok=yes
        ipv6_row "v6trial:$p1+$p2" "IPv6 predicted/expected/paths: $result" $ok \
            $((($(date +%s%N) - start) / 1000000)) "IPv6 prediction, expected, outcomes, families, agrees: $result (output in $file-*)"
    done
    for r in r1 r2; do
        { load_profile "$r" port_restricted_cone && load_ipv6_profile "$r" "$TN_IPV6_PROFILE_DEFAULT"; } ||
            abort "could not restore $r's profiles"
    done
}

ipv6_cases
if [ "$mode" = ranat ]; then
    ipv6_probe_cases
    punch_cases
    trial_cases
    relay_cases
    session_cases
    ticket_cases
    offline_cases
    lifetime_cases
    tcp_cases
    gateway_cases
    stacked_cases
    if [ ${#only[@]} -eq 0 ]; then
        service existing_teredo "miredo running in c2: ranat reports its interface" existing_teredo
    fi
fi

if [ "$mode" = anchors ] && [ ${#only[@]} -eq 0 ]; then
    load_profile r2 port_restricted_cone || abort "could not load a profile into r2"
    service upnp_igd "miniupnpd on r2: upnpc maps UDP 4000, a datagram crosses" upnp_check
    service nat_pmp "miniupnpd on r2: natpmpc maps UDP 4001" natpmp_check
    tn_start_miredo_server || abort "could not start miredo-server"
    service teredo "miredo in c2 qualifies with miredo-server" tn_start_miredo_client c2
fi

echo
printf '%-21s %-58s' case expected
printf ' %-10s' "${columns[@]}"
printf ' result\n'
printf '%s\n' "${rows[@]}"
if [ ${#details[@]} -gt 0 ]; then
    echo
    echo "failures:"
    printf '  %s\n' "${details[@]}"
fi
echo
echo "(cells: outcome and wall time of the slowest tool; ${tools[*]}; $(($(date +%s) - started)) s in all)"
echo "testnet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
