# shellcheck shell=bash
# Live Remote Assistance sessions (sourced by lib.sh): scripts/session-tmux.sh
# plays both people in tmux, the novice (`ranat invite`) on client1 behind
# router1 and the expert (`ranat assist CODE`) on client2 behind router2
# (prefixes "ip netns exec <prefix>-c1" / "-c2"), through ranat serve's
# rendezvous, STUN and relay. The script approves, shows a marker, grants
# control, types, takes control back with Esc, chats both ways, pauses,
# continues and disconnects, checking each step on both screens (see its
# header); then both sessions' logs must exist.
#
# A session passes when every step of the script passed and the expert's
# status line named the expected kind of path: a direct one (any kind but
# relay) where the punch connects, the relay where it cannot.

# The limit of one whole session (the script bounds each step itself).
TN_SESSION_TIMEOUT=120

# tn_session PROFILE1 PROFILE2 OUT EXPECTED: loads the profiles into r1 and
# r2 (their NATs without mappings), runs scripts/session-tmux.sh with its
# work files in the directory OUT (both sides' logs, the panes, the steps in
# OUT/steps.log) and EXPECTED (direct / relay / a kind) as --expect-path,
# and prints "STATUS PATH": the script's exit status and the path the
# expert's status line showed ("srflx IPv4", "relay IPv4"; "-" if none).
tn_session() {
    local p1=$1 p2=$2 out=$3 expected=$4 bin rc path
    bin=$(tn_ranat_bin) || { tn_die "no ranat binary"; return 1; }
    load_profile r1 "$p1" || return 1
    load_profile r2 "$p2" || return 1
    tn_reset_nat r1 && tn_reset_nat r2 || return 1
    rm -rf "$out"
    mkdir -p "$out" || return 1
    timeout "$TN_SESSION_TIMEOUT" "$TN_ROOT/scripts/session-tmux.sh" --bin "$bin" \
        --via "${TN_SERVER_RANAT[0]}:3480" --server "${TN_SERVER_RANAT[0]}:3478" \
        --novice-prefix "ip netns exec $(tn_ns c1)" --expert-prefix "ip netns exec $(tn_ns c2)" \
        --work "$out" --expect-path "$expected" >"$out/steps.log" 2>&1
    rc=$?
    path=$(cat "$out/path" 2>/dev/null)
    echo "$rc ${path:--}"
}

# tn_session_agrees EXPECTED "STATUS PATH": the verdict.
tn_session_agrees() {
    local expected=$1 rc path
    read -r rc path <<<"$2"
    [ "$rc" = 0 ] || return 1
    case $expected/${path%% *} in
        direct/relay | direct/-) return 1 ;;
        direct/*) return 0 ;;
        "${path%% *}/${path%% *}") return 0 ;;
        *) return 1 ;;
    esac
}

# tn_session_failure OUT: the first failed step (or the last line) of a
# session's steps, for the summary.
tn_session_failure() {
    grep -m1 '^FAIL' "$1/steps.log" 2>/dev/null || tail -1 "$1/steps.log" 2>/dev/null || echo "no steps"
}
