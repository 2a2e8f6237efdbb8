# shellcheck shell=bash
# What the loopback benchmarks share (sourced): a work folder removed on
# exit, the daemons they start (pids in PIDS) stopped on exit, each within
# about 2 s, and where a daemon's binary is.

# bench_workdir NAME: sets WORK to a fresh folder; every pid added to PIDS
# is stopped and WORK removed when the script exits.
bench_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/ranat-$1.XXXXXX")"
    PIDS=()
    trap _bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

_bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        # Bounded: a daemon that ignores SIGTERM gets SIGKILL after ~2 s.
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}

# bench_ranat_bin: sets RANAT_BIN to a release build of ranat, unless the
# caller gave one.
bench_ranat_bin() {
    [ -n "${RANAT_BIN:-}" ] && return 0
    cargo build --release --quiet --bin ranat
    RANAT_BIN=target/release/ranat
}

# have CMD: whether CMD is on PATH or in an sbin folder (Debian puts
# daemons there, off a normal user's PATH).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# path_of CMD: where CMD is.
path_of() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || echo "/sbin/$1"; }

# bench_runs_args RUNS SECONDS HELP_LAST_LINE ARGS...: sets RUNS (-n, 1-20)
# and SECONDS_PER_RUN (-t, 1-10) from ARGS, with the defaults given; -h
# prints the script's header down to line HELP_LAST_LINE.
bench_runs_args() {
    RUNS=$1 SECONDS_PER_RUN=$2
    local help=$3
    shift 3
    while [ $# -gt 0 ]; do
        case "$1" in
            -n) RUNS="$2"; shift 2 ;;
            -t) SECONDS_PER_RUN="$2"; shift 2 ;;
            -h|--help) sed -n "2,${help}p" "$0"; exit 0 ;;
            *) echo "unknown argument: $1" >&2; exit 2 ;;
        esac
    done
    case "$RUNS" in ''|*[!0-9]*|0) echo "-n needs 1-20" >&2; exit 2 ;; esac
    case "$SECONDS_PER_RUN" in ''|*[!0-9]*|0) echo "-t needs 1-10" >&2; exit 2 ;; esac
    [ "$RUNS" -le 20 ] || { echo "-n needs 1-20" >&2; exit 2; }
    [ "$SECONDS_PER_RUN" -le 10 ] || { echo "-t needs 1-10" >&2; exit 2; }
}

# wait_udp IP PORT NAME: waits (up to 10 s) until something listens on UDP
# IP:PORT; without ss, a second.
wait_udp() {
    local ip="$1" port="$2" name="$3"
    if ! have ss; then sleep 1; return 0; fi
    for _ in $(seq 100); do
        ss -Huln "( sport = :$port )" 2>/dev/null | grep -q "$ip:$port" && return 0
        sleep 0.1
    done
    echo "$name did not start listening on $ip:$port" >&2
    return 1
}
