# shellcheck shell=bash
# Live punch trials (sourced by lib.sh): `ranat check --via` between client1
# (behind router1) and client2 (behind router2), through `ranat serve`'s
# rendezvous on the server, for a pair of NAT profiles. Each side probes,
# the two exchange reports, predict, and make a real UDP hole punch; the
# trial passes when both sides saw the same outcome and it is the one
# predicted.

# tn_wait_code STDERR: the code a helper's side printed to the file STDERR
# ("your code is K7Q-4MX2TB"), waited for up to 10 s; nothing if none came.
tn_wait_code() {
    local i code
    for ((i = 0; i < 200; i++)); do
        code=$(grep -o 'your code is [A-Z0-9-]*' "$1" 2>/dev/null | awk '{print $4}')
        [ -n "$code" ] && break
        sleep 0.05
    done
    echo "$code"
}

# tn_punch_trial PROFILE1 PROFILE2 OUT: loads the profiles into r1 and r2,
# runs the check on both clients (c1 makes the code, c2 joins with it) and
# prints "expected observed1 observed2" (expected: connects / fails /
# unknown; observed: connected / failed / error).
tn_punch_trial() {
    local p1=$1 p2=$2 out=$3 bin code pid
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    load_profile r1 "$p1" || return 1
    load_profile r2 "$p2" || return 1
    local flags=(--json --no-portmap --no-teredo --no-hairpin --server "${TN_SERVER_RANAT[0]}:3478")
    tn_exec c1 timeout 60 "$bin" check --via "${TN_SERVER_RANAT[0]}" "${flags[@]}" \
        >"$out-c1.json" 2>"$out-c1.stderr" &
    pid=$!
    code=$(tn_wait_code "$out-c1.stderr")
    if [ -z "$code" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        echo "error error error"
        return 0
    fi
    tn_exec c2 timeout 60 "$bin" check --via "${TN_SERVER_RANAT[0]}" --code "$code" "${flags[@]}" \
        >"$out-c2.json" 2>"$out-c2.stderr"
    wait "$pid"
    local expected
    expected=$(jq -r '.live.expected // "error"' "$out-c2.json" 2>/dev/null || echo error)
    echo "$expected $(_tn_punch_observed "$out-c1.json") $(_tn_punch_observed "$out-c2.json")"
}

# _tn_punch_observed JSON: what one side's live punch saw.
_tn_punch_observed() {
    jq -r 'if .live.connected == true then "connected"
           elif .live.connected == false then "failed" else "error" end' "$1" 2>/dev/null || echo error
}

# tn_punch_agrees "expected observed1 observed2": the trial's verdict.
tn_punch_agrees() {
    local expected observed1 observed2
    read -r expected observed1 observed2 <<<"$1"
    [ "$observed1" = "$observed2" ] || return 1
    case $expected/$observed1 in
        connects/connected | likely/connected | fails/failed) return 0 ;;
        *) return 1 ;;
    esac
}
