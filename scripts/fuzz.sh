#!/usr/bin/env bash
# Runs ranat's fuzz targets (fuzz/, cargo-fuzz with libFuzzer and
# AddressSanitizer) on this machine's stable toolchain.
#
#   scripts/fuzz.sh --smoke [SECONDS] [TARGET...]     each target SECONDS (default 5)
#   scripts/fuzz.sh --campaign [EXECUTIONS] [TARGET...]
#                   EXECUTIONS in all (default 10000000), shared out evenly
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET, where
# there are any) and a corpus of its own under target/fuzz-corpus/TARGET
# that later runs go on from. A crash fails the run, and the input that
# crashed is kept in fuzz/artifacts/TARGET/ to become a regression test.
# The campaign prints, per target, executions, coverage (libFuzzer's cov
# and ft counters) and crashes, and writes the table to
# target/fuzz-campaign.md.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=smoke amount=''
case ${1:-} in
    --smoke) mode=smoke; shift; [[ ${1:-} =~ ^[0-9]+$ ]] && { amount=$1; shift; } ;;
    --campaign) mode=campaign; shift; [[ ${1:-} =~ ^[0-9]+$ ]] && { amount=$1; shift; } ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^ranat-fuzz$')
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet || {
    echo "fuzz: cannot install cargo-fuzz" >&2
    exit 1
}
# cargo-fuzz's sanitizer flags are nightly-only; the stable toolchain takes
# them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
(cd fuzz && cargo fuzz build) || { echo "fuzz: the targets do not build" >&2; exit 1; }

if [ "$mode" = smoke ]; then
    limit=(-max_total_time="${amount:-5}")
else
    per=$(((${amount:-10000000} + ${#targets[@]} - 1) / ${#targets[@]}))
    limit=(-runs="$per")
fi

failed=0 total=0
rows=()
for t in "${targets[@]}"; do
    corpus=target/fuzz-corpus/$t
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("$PWD/fuzz/seeds/$t")
    log=target/fuzz-$t.log
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    (cd fuzz && cargo fuzz run "$t" "$PWD/../$corpus" "${seeds[@]}" -- \
        "${limit[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(($(find "fuzz/artifacts/$t" -type f | wc -l) - before))
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        [ "$crashes" -eq 0 ] && crashes=1
        echo "fuzz: $t FAILED (exit $rc); see $log:" >&2
        grep -m5 -E 'panicked|ERROR|SUMMARY' "$log" >&2
    fi
    total=$((total + ${runs:-0}))
    rows+=("| $t | ${runs:-?} | ${cov:-?} | ${ft:-?} | $crashes |")
    echo "fuzz: $t: ${runs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, crashes $crashes"
done

{
    echo "| target | executions | coverage (cov) | features (ft) | crashes |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo "| all | $total | | | |"
} >"target/fuzz-$mode.md"
echo "fuzz: $total executions in all, $failed target(s) failed (table in target/fuzz-$mode.md)"
[ "$failed" -eq 0 ]
