#!/usr/bin/env bash
# Plays both people of a Remote Assistance session in tmux: the novice
# (`ranat invite`) in one tmux server, the expert (`ranat assist CODE`) in
# another, each with its own socket (tmux -L) and an optional command
# prefix, so that the same script runs on loopback (no prefix) and in the
# network test bed (prefix "ip netns exec NS"). It reads the code from the
# novice's pane, then goes through the session with send-keys and checks
# every step by polling capture-pane (each under a timeout):
#
#   code        the novice's pane shows the code
#   asked       the expert joined; the novice is asked to let them see
#   approved    `y`: the novice's status line says the expert sees it
#   seen        the novice's shell prints a marker; the expert sees it
#   path        the kind of path the expert's status line names
#               (checked against --expect-path)
#   control     the expert asks (Ctrl+] r), the novice grants (`y`)
#   typed       the expert types a command that creates a file; it appears
#   esc         the novice presses Esc: control is back, and a second
#               command the expert types no longer reaches the shell (its
#               file is NOT created within --quiet seconds)
#   chat        a line each way (Ctrl+] c, text, Enter), seen on the other
#               screen
#   pause       the novice pauses (Ctrl+] p): the expert sees the pause
#               placeholder (and its status line says so), not the
#               terminal; continue brings it back
#   disconnect  the expert disconnects (Ctrl+] d): both end, exit 0, say
#               "the session ended" and where the session's log is
#   logs        both logs exist
#
# It prints one verdict line per step and stops at the first failure,
# dumping both panes. Exit status: 0 when every step passed, 1 on a
# failure, 2 on a usage error.
#
# Usage:
#   scripts/session-tmux.sh --loopback [OPTIONS]
#   scripts/session-tmux.sh --via HOST:PORT --server HOST:PORT [OPTIONS]
#
#   --loopback            start a `ranat serve` (STUN, rendezvous, relay
#                         allowed to loopback) on two addresses of 127/8
#                         and use it; nothing leaves the loopback interface
#   --via HOST:PORT       the rendezvous (ranat serve, TCP 3480)
#   --server HOST:PORT    the STUN server (ranat serve, UDP 3478)
#   --bin PATH            ranat (default: $RANAT_BIN, else the newer of
#                         target/release/ranat and target/debug/ranat)
#   --novice-prefix CMD   run the novice's ranat under CMD (split on
#                         spaces), e.g. "ip netns exec rn1-c1"
#   --expert-prefix CMD   the same for the expert
#   --work DIR            keep the work files here (both sides' data dirs
#                         with the logs, the files the expert makes, the
#                         panes' dumps, the commands and their exit
#                         statuses); default: a temporary directory,
#                         removed when every step passed
#   --timeout S           the limit of each step (default 10)
#   --connect-timeout S   the limit until the novice is asked, which covers
#                         probing, punching and the channel (default 40)
#   --quiet S             how long the second file must stay absent after
#                         Esc (default 2)
#   --expect-path KIND    "direct" (any kind but relay), "relay", or an
#                         exact kind (host, srflx, prflx, mapped, ...)
#   --shell CMD           the novice's shell (default: sh)
#   --ranat-args ARGS     more arguments for both sides' ranat (split on
#                         spaces), e.g. "-4"
#
# The novice is USER=novice, the expert USER=expert (the display names are
# USER@hostname). On exit, whatever happens, a side's ranat still running
# is stopped (its pane's process group, by id), both tmux servers are
# killed and their sockets removed, and ranat serve (--loopback) is stopped
# by its process id.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '34,68s/^# \{0,1\}//p' "$0"
    exit 2
}

loopback=no via='' stun='' bin=${RANAT_BIN:-} work='' timeout=10 connect_timeout=40 quiet=2
expect_path='' shell_cmd=sh
novice_prefix=() expert_prefix=() ranat_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --loopback) loopback=yes; shift ;;
        --via) via=${2:?}; shift 2 ;;
        --server) stun=${2:?}; shift 2 ;;
        --bin) bin=${2:?}; shift 2 ;;
        --novice-prefix) read -r -a novice_prefix <<<"${2?}"; shift 2 ;;
        --expert-prefix) read -r -a expert_prefix <<<"${2?}"; shift 2 ;;
        --work) work=${2:?}; shift 2 ;;
        --timeout) timeout=${2:?}; shift 2 ;;
        --connect-timeout) connect_timeout=${2:?}; shift 2 ;;
        --quiet) quiet=${2:?}; shift 2 ;;
        --expect-path) expect_path=${2:?}; shift 2 ;;
        --shell) shell_cmd=${2:?}; shift 2 ;;
        --ranat-args) read -r -a ranat_args <<<"${2?}"; shift 2 ;;
        -h | --help) usage ;;
        *) echo "session-tmux.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
for n in "$timeout" "$connect_timeout" "$quiet"; do
    [[ $n =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "session-tmux.sh: '$n' is not a number of seconds" >&2; exit 2; }
done
if [ $loopback = yes ]; then
    [ -z "$via$stun" ] || { echo "session-tmux.sh: --loopback starts its own server: no --via/--server" >&2; exit 2; }
else
    [ -n "$via" ] && [ -n "$stun" ] || { echo "session-tmux.sh: --via and --server (or --loopback)" >&2; usage; }
fi
command -v tmux >/dev/null || { echo "session-tmux.sh: tmux is missing (Debian: apt-get install tmux)" >&2; exit 2; }
if [ -z "$bin" ]; then
    release=$root/target/release/ranat debug=$root/target/debug/ranat
    if [ -x "$release" ] && { [ ! -x "$debug" ] || [ "$release" -nt "$debug" ]; }; then
        bin=$release
    else
        bin=$debug
    fi
fi
[ -x "$bin" ] || { echo "session-tmux.sh: no ranat binary at '$bin' (cargo build, or --bin)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
"$bin" invite --help >/dev/null 2>&1 && "$bin" assist --help >/dev/null 2>&1 ||
    { echo "session-tmux.sh: $bin has no invite/assist commands" >&2; exit 2; }

temporary=no
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/ranat-session.XXXXXX") || exit 1
    temporary=yes
else
    mkdir -p "$work" || exit 1
    work=$(cd "$work" && pwd)
fi
files=$work/files
rm -rf "$files" "$work/novice-data" "$work/expert-data"
mkdir -p "$files" "$work/novice-data" "$work/expert-data" || exit 1
token=$(printf '%04x%04x' $RANDOM $RANDOM)

# --- the tmux servers --------------------------------------------------------

declare -A socket=([novice]=ranat-session-$$-novice [expert]=ranat-session-$$-expert)
declare -A pane_pid=() ranat_pid=() socket_path=()
serve_pid=''
all_passed=no

t() { local side=$1; shift; tmux -u -L "${socket[$side]}" "$@"; }

# The pane's text, wrapped lines joined.
pane() { t "$1" capture-pane -p -J -t "$1" 2>/dev/null; }
# Its last non-empty line (the status line, or the question in its place).
last_line() { pane "$1" | awk 'NF { line = $0 } END { print line }'; }
# The exit status of a side's ranat, once it exited: written by the pane's
# shell. (tmux's own #{pane_dead_status} is not used: tmux 3.3a now and
# then misses the pane's SIGCHLD and leaves it a zombie, status unknown.)
pane_status() { cat "$work/$1.exit" 2>/dev/null; }
exited() { [ -s "$work/$1.exit" ]; }

alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID [GROUP]: SIGTERM, up to 3 s, then SIGKILL, to the process
# (or to its whole process group GROUP); returns once it is gone.
stop_pid() {
    local pid=$1 target=${2:-$1} i
    alive "$pid" || return 0
    kill -TERM -- "$target" 2>/dev/null
    for ((i = 0; i < 30; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
}

cleanup() {
    local side
    for side in novice expert; do
        # The pane's shell leads its own process group (tmux made it a
        # session leader): ranat, and the ip netns exec before it, are in it.
        [ -n "${pane_pid[$side]:-}" ] && alive "${ranat_pid[$side]:-0}" &&
            stop_pid "${ranat_pid[$side]}" "-${pane_pid[$side]}"
        t "$side" kill-server 2>/dev/null
        # tmux leaves its socket file behind.
        [ -n "${socket_path[$side]:-}" ] && rm -f "${socket_path[$side]}"
    done
    if [ -n "$serve_pid" ]; then
        stop_pid "$serve_pid"
        wait "$serve_pid" 2>/dev/null
    fi
    if [ $temporary = yes ] && [ $all_passed = yes ]; then
        rm -rf "$work"
    elif [ $all_passed = no ]; then
        echo "session-tmux: work files kept in $work"
    fi
}
trap cleanup EXIT
trap 'echo "session-tmux: interrupted"; exit 130' INT TERM HUP

# start SIDE PREFIX-ARRAY-NAME COMMAND...: runs COMMAND (ranat) in a new
# tmux server of its own, 120 x 32, with the pane kept once it exits; the
# pane's shell writes COMMAND's exit status to $work/SIDE.exit.
start() {
    local side=$1 prefix_name=$2
    shift 2
    local -n prefix=$prefix_name
    local conf=$work/tmux.conf line='' word i
    printf 'set -g remain-on-exit on\nset -g status off\nset -g history-limit 2000\n' >"$conf"
    for word in "${prefix[@]}" env "USER=$side" "RANAT_DATA_DIR=$work/$side-data" \
        "PS1=$side\$ " "HISTFILE=/dev/null" "$@"; do
        line+="$(printf '%q' "$word") "
    done
    rm -f "$work/$side.exit"
    line+="; echo \$? >$(printf '%q' "$work/$side.exit")"
    echo "$line" >"$work/$side.command"
    t "$side" -f "$conf" new-session -d -x 120 -y 32 -s "$side" "$line" || return 1
    socket_path[$side]=$(t "$side" display-message -p -t "$side" '#{socket_path}')
    pane_pid[$side]=$(t "$side" display-message -p -t "$side" '#{pane_pid}')
    # ranat's process: the shell's child (ip netns exec and env exec it).
    for ((i = 0; i < 50; i++)); do
        ranat_pid[$side]=$(pgrep -P "${pane_pid[$side]}" | head -1)
        [ -n "${ranat_pid[$side]}" ] && return 0
        sleep 0.02
    done
    return 0 # it exited at once: the next step will show why
}

# --- steps -------------------------------------------------------------------

started=$(date +%s%N)
step_started=$started
steps=0

dump() {
    local side
    for side in novice expert; do
        pane "$side" >"$work/$side.pane" 2>/dev/null
        echo "---------------- the $side's pane (${socket[$side]}) ----------------"
        cat "$work/$side.pane"
    done
    echo "-----------------------------------------------------------------"
    [ -s "$work/serve.log" ] && { echo "ranat serve's log:"; sed 's/^/    /' "$work/serve.log"; }
}

seconds_since() { awk -v ns="$(($(date +%s%N) - $1))" 'BEGIN { printf "%.1f", ns / 1e9 }'; }

pass() {
    steps=$((steps + 1))
    printf 'PASS  %-11s %s (%s s)\n' "$1" "$2" "$(seconds_since "$step_started")"
    step_started=$(date +%s%N)
}

fail() {
    printf 'FAIL  %-11s %s (%s s)\n' "$1" "$2" "$(seconds_since "$step_started")"
    dump
    exit 1
}

# until SECONDS CHECK...: polls CHECK (a command) every 0.1 s for up to
# SECONDS; fails when it never held.
until_ok() {
    local limit=$1 deadline
    shift
    deadline=$(($(date +%s%N) + ${limit%.*} * 1000000000))
    while true; do
        "$@" && return 0
        [ "$(date +%s%N)" -lt $deadline ] || return 1
        sleep 0.1
    done
}

# The checks: the pane shows a line matching REGEX (grep -E) / its last
# line (the status line, or what replaces it) matches / no line matches.
shows() { pane "$1" | grep -qE -- "$2"; }
status_is() { last_line "$1" | grep -qE -- "$2"; }
lacks() { ! pane "$1" | grep -qE -- "$2"; }

keys() { local side=$1; shift; t "$side" send-keys -t "$side" "$@"; }
text() { t "$1" send-keys -t "$1" -l -- "$2"; }

# The display names: USER@hostname (or USER alone without a hostname).
novice_name='novice(@[^ ]*)?'
expert_name='expert(@[^ ]*)?'

# --- the server (--loopback) ---------------------------------------------------

if [ $loopback = yes ]; then
    octet=$((100 + RANDOM % 100))
    host=$((1 + RANDOM % 250))
    primary=127.$octet.$host.1 alternate=127.$octet.$host.2
    echo "session-tmux: secret of the loopback relay" >"$work/relay-secret"
    "$bin" serve --primary "$primary" --alternate "$alternate" --rendezvous-port 0 \
        --relay-secret-file "$work/relay-secret" --relay-allow 127.0.0.0/8 \
        </dev/null >"$work/serve.log" 2>&1 &
    serve_pid=$!
    serve_up() { grep -o 'rendezvous listening on TCP [0-9.:]*' "$work/serve.log" 2>/dev/null | awk '{ print $5 }'; }
    serve_is_up() { [ -n "$(serve_up)" ]; }
    until_ok 10 serve_is_up || fail serve "ranat serve did not start on $primary within 10 s"
    via=$(serve_up) stun=$primary:3478
    ranat_args=(-4 "${ranat_args[@]}")
    pass serve "ranat serve on $primary and $alternate, rendezvous $via"
fi

common=(--via "$via" --server "$stun" --no-teredo --no-hairpin --no-portmap "${ranat_args[@]}")

# --- the session -------------------------------------------------------------

start novice novice_prefix "$bin" invite "${common[@]}" --shell "$shell_cmd" ||
    fail code "tmux could not start the novice"
code_of() { pane novice | grep -oE 'your code is [A-Z0-9]{3}-[A-Z0-9]+' | awk '{ print $4 }'; }
has_code() { [ -n "$(code_of)" ]; }
until_ok "$timeout" has_code || fail code "the novice's pane shows no code"
code=$(code_of)
pass code "the novice's code is $code"

start expert expert_prefix "$bin" assist "${common[@]}" "$code" ||
    fail asked "tmux could not start the expert"
until_ok "$connect_timeout" status_is novice "^ *Allow $expert_name to see your terminal\? \[y/n\]" ||
    fail asked "the novice was not asked to let the expert see"
until_ok "$timeout" shows expert "waiting for $novice_name to allow you to see the terminal" ||
    fail asked "the expert does not say it waits for the novice's approval"
pass asked "the novice is asked: $(last_line novice | sed 's/^ *//; s/ *$//')"

keys novice y
until_ok "$timeout" status_is novice "^ *$expert_name sees your terminal" ||
    fail approved "the novice's status line does not say the expert sees the terminal"
until_ok "$timeout" status_is expert "viewing $novice_name's terminal" ||
    fail approved "the expert's status line does not say it views the terminal"
pass approved "the novice allowed the expert to see"

marker="seen-by-the-expert-\$((6*7))-$token" seen="seen-by-the-expert-42-$token"
text novice "echo $marker"
keys novice Enter
until_ok "$timeout" shows novice "^$seen" || fail seen "the novice's shell did not print the marker"
until_ok "$timeout" shows expert "^$seen" || fail seen "the expert does not see the novice's marker"
pass seen "the expert sees what the novice's shell printed"

# The path: the second part of the expert's status line ("srflx IPv4").
path=$(last_line expert | awk -F '│' '{ gsub(/^ +| +$/, "", $2); print $2 }')
echo "$path" >"$work/path"
kind=${path%% *}
case ${expect_path:-any}/$kind in
    any/?*) pass path "the expert's status line shows the path '$path'" ;;
    direct/relay | direct/) fail path "the expert's status line shows '$path', not a direct path" ;;
    direct/*) pass path "the expert's status line shows the direct path '$path'" ;;
    "$kind/$kind") pass path "the expert's status line shows the path '$path'" ;;
    *) fail path "the expert's status line shows the path '$path', not '$expect_path'" ;;
esac

keys expert C-] r
until_ok "$timeout" status_is novice "^ *Allow $expert_name to control your terminal\? \[y/n\]" ||
    fail control "the novice was not asked to grant control"
keys novice y
until_ok "$timeout" status_is novice "^ *$expert_name controls your terminal \(Esc takes it back\)" ||
    fail control "the novice's status line does not say the expert controls"
until_ok "$timeout" status_is expert "you control $novice_name's terminal" ||
    fail control "the expert's status line does not say it controls"
pass control "the expert asked for control and the novice granted it"

text expert "touch $files/by-the-expert-1"
keys expert Enter
until_ok "$timeout" test -e "$files/by-the-expert-1" ||
    fail typed "the expert's command did not create $files/by-the-expert-1"
pass typed "the expert's keys reached the novice's shell: the file appeared"

keys novice Escape
until_ok "$timeout" status_is novice "^ *$expert_name sees your terminal" ||
    fail esc "the novice's status line does not say control is back"
until_ok "$timeout" status_is expert "viewing $novice_name's terminal" ||
    fail esc "the expert's status line still says it controls"
text expert "touch $files/by-the-expert-2"
keys expert Enter
sleep "$quiet"
[ ! -e "$files/by-the-expert-2" ] ||
    fail esc "the expert's keys still reached the shell after Esc: $files/by-the-expert-2 exists"
lacks novice "by-the-expert-2" || fail esc "the expert's keys show on the novice's terminal after Esc"
pass esc "Esc took control back; the expert's next command did not reach the shell"

said="hello from the expert $token"
keys expert C-] c
text expert "$said"
keys expert Enter
until_ok "$timeout" status_is novice "$expert_name: $said" ||
    fail chat "the novice does not see the expert's chat line"
until_ok "$timeout" shows expert "you: $said" || fail chat "the expert's chat pane lacks its own line"
answer="hi from the novice $token"
keys novice C-] c
text novice "$answer"
keys novice Enter
until_ok "$timeout" shows expert "$novice_name: $answer" ||
    fail chat "the expert does not see the novice's chat line"
pass chat "a chat line each way, each seen on the other screen"

keys novice C-] p
until_ok "$timeout" status_is novice "^ *paused: $expert_name sees nothing" ||
    fail pause "the novice's status line does not say paused"
until_ok "$timeout" shows expert "$novice_name paused the session" ||
    fail pause "the expert does not see the pause placeholder"
until_ok "$timeout" status_is expert "$novice_name paused the session" ||
    fail pause "the expert's status line does not say the session is paused"
lacks expert "^$seen" || fail pause "the expert still sees the novice's terminal while paused"
keys novice C-] p
until_ok "$timeout" status_is novice "^ *$expert_name sees your terminal" ||
    fail pause "the novice's status line does not say the expert sees again"
until_ok "$timeout" shows expert "^$seen" ||
    fail pause "the expert does not see the novice's terminal again after continue"
pass pause "the novice paused (the expert saw the placeholder) and continued"

keys expert C-] d
until_ok "$timeout" exited expert || fail disconnect "the expert's ranat did not exit"
until_ok "$timeout" exited novice || fail disconnect "the novice's ranat did not exit"
for side in novice expert; do
    status=$(pane_status "$side")
    [ "$status" = 0 ] || fail disconnect "the $side's ranat exited with status $status"
done
shows expert 'ranat assist: the session ended \(you\): the expert disconnected' ||
    fail disconnect "the expert's pane does not say the session ended"
shows novice 'ranat invite: the session ended \(the other side\): the expert disconnected' ||
    fail disconnect "the novice's pane does not say the session ended"
pass disconnect "the expert disconnected; both sides ended with status 0"

logs=()
for side in novice expert; do
    log=$(pane "$side" | sed -n "s/^ranat [a-z]*: the session's log: //p" | tail -1)
    [ -n "$log" ] || fail logs "the $side's pane names no session log"
    [ -s "$log" ] || fail logs "the $side's session log $log is missing or empty"
    case $log in
        "$work/$side-data/Remote Assistance Logs/"*.xml) ;;
        *) fail logs "the $side's session log $log is not under its RANAT_DATA_DIR" ;;
    esac
    grep -q '<DISCONNECTED ' "$log" || fail logs "the $side's session log $log records no disconnection"
    logs+=("$log")
done
pass logs "both logs exist: ${logs[*]#"$work/"}"

for side in novice expert; do pane "$side" >"$work/$side.pane"; done
all_passed=yes
echo "session-tmux: all $steps steps passed in $(seconds_since "$started") s (path: $path)"
