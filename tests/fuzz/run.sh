#!/bin/sh
# Runs every libFuzzer harness built in BUILD_DIR for SECONDS each, starting from its seed
# corpus tests/fuzz/NAME/ (which stays untouched: new inputs go to BUILD_DIR/fuzz-corpus/NAME).
# Fails on a crash, a leak, an input that runs past TIMEOUT seconds, or memory past 2 GiB;
# the input that did it is kept in BUILD_DIR/fuzz-artifacts.
#   usage: run.sh BUILD_DIR [SECONDS [TIMEOUT]]
set -u
build=$1
seconds=${2:-30}
timeout=${3:-10}
seeds=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/fuzz-artifacts"
failed=""
ran=0
for harness in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$harness" ] || continue
    name=${harness##*/fuzz_}
    corpus="$build/fuzz-corpus/$name"
    log="$build/fuzz-artifacts/$name.log"
    mkdir -p "$corpus"
    if "$harness" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -artifact_prefix="$build/fuzz-artifacts/$name-" -print_final_stats=1 \
        "$corpus" "$seeds/$name" >"$log" 2>&1; then
        echo "fuzz $name: ok, $(grep -m1 '^stat::number_of_executed_units' "$log" |
            sed 's/.*: *//') inputs in ${seconds} s"
    else
        echo "fuzz $name: FAILED (log: $log)"
        grep -A30 -m1 -E '^==[0-9]+==|^SUMMARY|ERROR: libFuzzer' "$log" | head -40
        failed="$failed $name"
    fi
    ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
    echo "fuzz: no harness in $build/tests/fuzz"
    exit 1
fi
[ -z "$failed" ] || { echo "fuzz: failed:$failed"; exit 1; }
echo "fuzz: $ran harnesses, no crash, leak or timeout"
