#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang++ (ASan+UBSan) and runs each for a bounded
# time from its committed seed corpus; fails on any crash, leak or sanitizer report.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 15; env FUZZ_BUILD_DIR, default build/fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-${FUZZ_SECONDS:-15}}"
build="$(realpath -m "${FUZZ_BUILD_DIR:-build/fuzz}")"
targets=(fuzz_base64 fuzz_task fuzz_profile fuzz_jwt fuzz_image)

cmake -S fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build"

fail=0
for t in "${targets[@]}"; do
    work="$build/run/$t"
    rm -rf "$work" && mkdir -p "$work/corpus"
    cp fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
    echo "--- $t (${secs}s)"
    # New inputs go to a scratch copy: the committed corpus stays small and reviewed.
    if ! (cd "$work" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
          "$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
          -max_len=65536 -print_final_stats=1 corpus >"log.txt" 2>&1); then
        echo "FAILED: $t (see $work/log.txt; crash inputs: $work/crash-*)"
        tail -40 "$work/log.txt"
        fail=1
    else
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$work/log.txt" | tail -1 || true
    fi
done
exit $fail
