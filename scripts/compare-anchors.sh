#!/usr/bin/env bash
# Compares ranat probe with two established NAT classifiers on the same NATs
# of the test bed (testnet/): Debian's `stun` client (Vovida, RFC 3489,
# against stund) and coturn's `turnutils_natdiscovery -m -f` (RFC 5780,
# against coturn). ranat runs twice: its STUN part alone (what the others
# measure), and the complete default probe (the port-mapping check against
# the client's own router and Teredo against miredo-server as well). For
# every profile it prints each tool's verdict and its median wall time over
# several runs, as one markdown table; then the same with a one-way delay on
# the router's WAN link (testnet-relay); then both again with the real
# miniupnpd (UPnP IGD, NAT-PMP, PCP) on the router. Last, ranat's complete
# probe against its targets: under 1.0 s at 50 ms RTT, under 0.3 s direct.
#
#   scripts/compare-anchors.sh [--runs N] [--delay MS] [--only CASE]... [--no-router]
#
#   --runs N     runs per tool and profile (default 5)
#   --delay MS   one-way delay of the delayed tables (default 25, i.e. 50 ms
#                RTT; 0: no delayed tables)
#   --only CASE  only this case (repeatable; cases as in scripts/testnet.sh)
#   --no-router  no tables with miniupnpd on the router
#
# A verdict is marked ✓ when it matches the profile in what the tool reports
# (stun has no RFC 4787 mapping for a symmetric NAT; natdiscovery has no
# classic label, so it cannot tell "no NAT"), ✗ when not, and "varies" when
# the runs disagree. Needs root and a ranat binary ($RANAT_BIN, else the
# newer of target/release/ranat and target/debug/ranat). Markdown goes to
# stdout, progress to stderr; raw outputs to $RANAT_TESTNET_OUT
# (default target/compare-anchors).
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '14,21s/^# \{0,1\}//p' "$0"
    exit 2
}

runs=5 delay=25 only=() router=1
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift 2 ;;
        --delay) delay=${2:?}; shift 2 ;;
        --only) only+=("${2:?}"); shift 2 ;;
        --no-router) router=0; shift ;;
        -h | --help) usage ;;
        *) echo "compare-anchors.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "compare-anchors.sh: --runs takes a positive number" >&2; exit 2; }
[[ $delay =~ ^[0-9]+$ ]] || { echo "compare-anchors.sh: --delay takes milliseconds" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "compare-anchors.sh: needs root (network namespaces)" >&2; exit 1; }

. testnet/lib.sh
tn_check_case_names "${only[@]}" || exit 2
bin=$(tn_ranat_bin) || { echo "compare-anchors.sh: no ranat binary (cargo build --release)" >&2; exit 1; }
command -v jq >/dev/null || { echo "compare-anchors.sh: needs jq" >&2; exit 1; }

out=${RANAT_TESTNET_OUT:-target/compare-anchors}
rm -rf "$out"
mkdir -p "$out"

trap 'tn_save_evidence "$out/testnet"; tn_down' EXIT
trap 'echo "compare-anchors: interrupted" >&2; exit 130' INT TERM
tn_up || exit 1
{ tn_start_stund && tn_start_coturn && tn_start_ranat_serve && tn_start_miredo_server; } || exit 1

TOOLS=(stun natdiscovery ranat ranat_complete)

# The complete probe's medians, per table ("TITLE-TAG case ms"), for the
# targets at the end.
complete_medians=()

# median MS...: the median of integers (the lower middle one for an even count).
median() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

seconds() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# table TITLE: one markdown table over every case, with the current link.
table() {
    local entry name spec expected tool run result
    echo "$1"
    echo
    echo "| profile | expected | stun | natdiscovery | ranat (STUN) | ranat (complete) | stun s | natdiscovery s | ranat (STUN) s | ranat (complete) s | STUN/stun | STUN/natdiscovery | complete/stun | complete/natdiscovery |"
    echo "|---|---|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    for entry in "${TN_CASES[@]}"; do
        read -r name spec expected <<<"$entry"
        if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
            continue
        fi
        IFS=: read -r -a profile <<<"$spec"
        load_profile r1 "${profile[@]}" || exit 1
        echo "   $name ($runs runs per tool)" >&2
        declare -A verdicts=() times=()
        # Tools take turns run by run, so that any drift hits them alike.
        for ((run = 1; run <= runs; run++)); do
            for tool in "${TOOLS[@]}"; do
                # The complete probe counts on the router's ICMP "port
                # unreachable", which Linux sends a client at most six at
                # once, then one a second: the probes just before it (their
                # hairpin tests to the router's own address draw four) are
                # given time to be forgotten, as between a user's probes.
                [ "$tool" = ranat_complete ] && sleep 3
                result=$(tn_probe_timed "$tool" c1 "$out/$2-$name-$run-$tool")
                verdicts[$tool]+="${result% *}"$'\n'
                times[$tool]+=" ${result##* }"
            done
        done
        local cells=() medians=()
        for tool in "${TOOLS[@]}"; do
            cells+=("$(verdict_cell "$expected" "${verdicts[$tool]}")")
            # shellcheck disable=SC2086 # a list of numbers
            medians+=("$(median ${times[$tool]})")
        done
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$name" "$(tn_short "$expected")" "${cells[@]}" \
            "$(seconds "${medians[0]}")" "$(seconds "${medians[1]}")" \
            "$(seconds "${medians[2]}")" "$(seconds "${medians[3]}")" \
            "$(ratio "${medians[2]}" "${medians[0]}")" "$(ratio "${medians[2]}" "${medians[1]}")" \
            "$(ratio "${medians[3]}" "${medians[0]}")" "$(ratio "${medians[3]}" "${medians[1]}")"
        complete_medians+=("$2 $name ${medians[3]}")
        unset verdicts times
    done
    echo
}

# verdict_cell EXPECTED VERDICTS: the verdict with ✓/✗, or how often the runs
# were right when they disagree.
verdict_cell() {
    local expected=$1 distinct right=0 total=0 line
    distinct=$(sort -u <<<"${2%$'\n'}")
    while IFS= read -r line; do
        total=$((total + 1))
        tn_compare "$expected" "$line" >/dev/null && right=$((right + 1))
    done <<<"${2%$'\n'}"
    if [ "$(wc -l <<<"$distinct")" -gt 1 ]; then
        echo "varies ($right/$total ✓)"
    elif [ $right -eq $total ]; then
        echo "$(tn_short "$distinct") ✓"
    else
        echo "$(tn_short "$distinct") ✗"
    fi
}

echo "ranat: $bin ($("$bin" --version)); $runs runs per tool and profile; times are medians of wall time." >&2
echo "Each tool against its own server in the test bed, client behind router r1 (\`scripts/compare-anchors.sh --runs $runs\`)."
echo
# tables SUFFIX WORDS: the direct table and the delayed one.
tables() {
    set_delay r1 0 || exit 1
    table "#### Direct link (sub-millisecond RTT)$2" "plain$1"
    if [ "$delay" -gt 0 ]; then
        set_delay r1 "$delay" || exit 1
        table "#### ${delay} ms one-way delay on the WAN link ($((2 * delay)) ms RTT, testnet-relay)$2" "delay$1"
    fi
}

tables "" ", no UPnP / PCP on the router"
if [ "$router" = 1 ]; then
    tn_start_miniupnpd r1 || exit 1
    tables "-router" ", miniupnpd (UPnP IGD, NAT-PMP, PCP) on the router"
fi
echo "EI / AD / APD: endpoint-independent / address-dependent / address-and-port-dependent (mapping/filtering)."
echo "Times in seconds, median of $runs runs; a ratio below 1 means ranat was faster. ranat (STUN): \`--no-portmap --no-teredo\`, what the other two measure; ranat (complete): the default probe, nothing switched off."
echo
echo "#### ranat's complete probe against its targets (under 1.0 s at 50 ms RTT, under 0.3 s direct)"
echo
echo "| table | profile | median s | target s | met |"
echo "|---|---|--:|--:|---|"
for entry in "${complete_medians[@]}"; do
    read -r tag name ms <<<"$entry"
    case $tag in plain*) target=300 ;; *) target=1000 ;; esac
    met=yes
    [ "$ms" -lt "$target" ] || met=no
    echo "| $tag | $name | $(seconds "$ms") | $(seconds "$target") | $met |"
done
