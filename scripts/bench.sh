#!/usr/bin/env bash
# The one benchmark command: sets the machine up, builds the benchmark programs and the cvgen CLI
# (release with debug info, preset "dev"), runs every benchmark and prints one summary table
# (figure, target, pass/miss). Full logs go to build/dev/bench-logs/. See BENCHMARKS.md.
#
#   bash scripts/bench.sh
#
# Knobs (environment): BENCH_BATCH_N (400), BENCH_BATCH_LATENCY (0.5), BENCH_BATCH_CONCURRENCY
# (50), BENCH_BATCH_REPEAT (3), BENCH_MEMORY_SMALL (100), BENCH_MEMORY_LARGE (1000),
# BENCH_REPETITIONS (5, Google Benchmark repetitions), BENCH_SKIP_SETUP=1 (no setup.sh),
# BENCH_BUILD_LOCK=FILE (build under `flock FILE`, for shared machines).
# Benchmarks are never CI tests: this script exits 0 when every benchmark ran, even if a target
# was missed (the table says so), and 1 when a benchmark failed to run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

BATCH_N="${BENCH_BATCH_N:-400}"
BATCH_L="${BENCH_BATCH_LATENCY:-0.5}"
BATCH_C="${BENCH_BATCH_CONCURRENCY:-50}"
BATCH_REPEAT="${BENCH_BATCH_REPEAT:-3}"
MEM_SMALL="${BENCH_MEMORY_SMALL:-100}"
MEM_LARGE="${BENCH_MEMORY_LARGE:-1000}"
REPS="${BENCH_REPETITIONS:-5}"

if [ "${BENCH_SKIP_SETUP:-0}" != "1" ]; then
    bash scripts/setup.sh
fi
lock=()
if [ -n "${BENCH_BUILD_LOCK:-}" ]; then lock=(flock "$BENCH_BUILD_LOCK"); fi
"${lock[@]}" cmake --preset dev >/dev/null
"${lock[@]}" cmake --build --preset dev --target \
    bench_core bench_local bench_planner bench_remote bench_batch bench_memory cvgen

bin="$here/build/dev/bench"
logs="$here/build/dev/bench-logs"
mkdir -p "$logs"
export CVGEN_SAMPLES_DATA="$here/samples/data"

failed=0
run() {  # name, args… : runs build/dev/bench/<name>, output to the terminal and <logs>/<name>.txt
    local name="$1"
    shift
    echo
    echo "=== $name $* ($(uptime | sed 's/.*load average/load average/'))"
    if ! "$bin/$name" "$@" 2>&1 | tee "$logs/$name.txt"; then
        echo "bench: $name failed" >&2
        failed=1
    fi
}

gb=(--benchmark_color=false)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
run bench_core "${gb[@]}" --benchmark_repetitions="$REPS"
run bench_planner "${gb[@]}" --benchmark_repetitions="$REPS" \
    --benchmark_report_aggregates_only=true
run bench_local "${gb[@]}" --benchmark_filter='BM_Expand'
run bench_remote "${gb[@]}"
run bench_batch --n="$BATCH_N" --latency="$BATCH_L" --concurrency="$BATCH_C" --poll=both \
    --repeat="$BATCH_REPEAT"
run bench_memory --small="$MEM_SMALL" --large="$MEM_LARGE"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- summary ---------------------------------------------------------------------------------
L="$logs"
# first number after a label in a log ("" when absent)
after() { grep -m1 -- "$2" "$L/$1.txt" 2>/dev/null | sed -E "s/.*$2[^0-9]*([0-9.]+).*/\1/" || true; }
# column 2 of the first console line whose first field matches the regex $2 (colours stripped)
col2() {
    sed 's/\x1b\[[0-9;]*m//g' "$L/$1.txt" 2>/dev/null |
        awk -v re="$2" '$1 ~ re { print $2; exit }' || true
}
# a Google Benchmark run's median (with repetitions) or its only figure (without)
med() { col2 "$1" "^$2/(iterations:[0-9]+/)?(repeats:[0-9]+/)?real_time(_median)?\$"; }
# value of key=value on the RESULT line starting with $2
res() { grep -m1 "^RESULT $2 " "$L/$1.txt" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$3=//p" || true; }

rows=()
row() {  # figure, value, unit, op (<= or >= or -), target
    local verdict="-"
    if [ -z "$2" ]; then
        verdict="NOT RUN"
    elif [ "$4" != "-" ]; then
        if awk -v v="$2" -v t="$5" -v op="$4" \
            'BEGIN { exit !((op == "<=" && v <= t) || (op == ">=" && v >= t)) }'; then
            verdict="pass"
        else
            verdict="MISS"
        fi
    fi
    local target="-"
    [ "$4" != "-" ] && target="$4 $5"
    rows+=("$(printf '%-46s %12s %-6s %-10s %s' "$1" "${2:-?}" "$3" "$target" "$verdict")")
}

row "memcpy (one core, 8 MiB)" "$(after bench_core 'memcpy')" "GB/s" - -
row "base64 encode (best of $REPS)" "$(after bench_core 'base64 encode')" "GB/s" ">=" 1.5
row "base64 decode (best of $REPS)" "$(after bench_core 'base64 decode')" "GB/s" ">=" 1.2
row "12 MP JPEG: decode+re-encode / pass-through" \
    "$(after bench_core ', ratio')" "x" ">=" 10
row "compose 2 MP (median)" "$(med bench_planner BM_Compose2MP)" "ms" - -
row "compose 24 MP (median)" "$(med bench_planner BM_Compose24MP)" "ms" "<=" 150
for m in blur soft edge; do
    row "local expand $m 1 MP -> 2 MP (median)" \
        "$(med bench_local "BM_Expand/$m/1MP_to_2MP")" "ms" "<=" 60
done
for m in blur soft edge; do
    row "local expand $m 12 MP -> 24 MP (median)" \
        "$(med bench_local "BM_Expand/$m/12MP_to_24MP")" "ms" "<=" 1500
done
row "seam score, worst photo x mode x geometry" "$(after bench_local 'worst')" "" "<=" 1.3
row "loopback poll (one query, emulator)" "$(col2 bench_remote '^BM_LoopbackPoll$')" "us" - -
for pol in tuned default; do
    row "batch $pol poll: wall / ideal (median of $BATCH_REPEAT)" \
        "$(res bench_batch "batch_$pol" ratio)" "" "<=" 1.10
    row "batch $pol poll: client CPU per task" \
        "$(res bench_batch "batch_$pol" client_cpu_ms_per_task)" "ms" "<=" 5
done
row "batch peak RSS, N=$MEM_SMALL" "$(res bench_memory memory rss_small_mb)" "MB" - -
row "batch peak RSS, N=$MEM_LARGE" "$(res bench_memory memory rss_large_mb)" "MB" - -
row "batch RSS(N=$MEM_LARGE) / RSS(N=$MEM_SMALL)" "$(res bench_memory memory ratio)" "" "<=" 1.2

echo
echo "Summary ($(nproc) cores, load average before: $load_before, after: $load_after;" \
    "batch: N=$BATCH_N L=${BATCH_L}s C=$BATCH_C; logs in $logs)"
printf '%-46s %12s %-6s %-10s %s\n' "figure" "value" "unit" "target" "result"
printf '%s\n' "${rows[@]}"
exit "$failed"
