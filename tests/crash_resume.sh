#!/bin/sh
# Crash safety: a short training run killed with SIGKILL at many points (inside checkpoint,
# model, config and log writes, and at whatever moment a timer hits) always resumes, never
# finds a half-written file, and ends with the log, probe, checkpoint and weights of a run that
# was never interrupted. VKQ_CRASH_AT_WRITE=N makes vkquill kill itself inside its Nth atomic
# file write, before that file is complete. The same for a run of a Hugging Face directory,
# whose model/ is written as model.tmp/ and swapped in.
vkquill=$1
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

"$vkquill" init --out "$tmp/m" --dim 16 --hidden 24 --layers 1 --heads 2 --kv-heads 1 \
    --seq-len 128 >/dev/null || { echo "FAIL: init"; exit 1; }
for i in 1 2 3 4 5; do
    printf '{"user": "u%d", "input": "q%d", "target": "answer %d", "history": [{"input": "h%d", "output": "old %d"}]}\n' \
        $((i % 2)) "$i" "$i" "$i" "$i"
done >"$tmp/data.jsonl"

# A constant learning rate makes a run of k steps the first k steps of a longer one. (mktemp
# gives a path without spaces, so $options splits into the right words.)
options="--model $tmp/m/model.bin --tokenizer $tmp/m/tokenizer.bin --data $tmp/data.jsonl
    --val $tmp/data.jsonl --probe-every 2 --batch 2 --save-every 1 --schedule constant
    --warmup 0 --max-prompt-tokens 100 --max-target-tokens 16"
train() {
    "$vkquill" train $options "$@" >/dev/null 2>"$tmp/err"
}

steps=6
train --out "$tmp/straight" --steps $steps || fail "the uninterrupted run: $(cat "$tmp/err")"
train --out "$tmp/straight2" --steps 2 || fail "the uninterrupted 2-step run: $(cat "$tmp/err")"

# Only the run's own files (and temporary ones), and a log of whole lines for steps 1, 2, ...
check_run() {
    for f in "$run"/*; do
        case "${f##*/}" in
        config.json | log.jsonl | probe.jsonl | checkpoint.bin | model.bin | model | *.tmp) ;;
        *) fail "$1: unexpected file $f" ;;
        esac
    done
    [ ! -s "$run/log.jsonl" ] || [ "$(tail -c 1 "$run/log.jsonl")" = "" ] ||
        fail "$1: the log ends in a cut line"
    [ ! -e "$run/log.jsonl" ] ||
        awk '!/^\{"step":[0-9]+,.*\}$/ || substr($0, 9) + 0 != NR { exit 1 }' "$run/log.jsonl" ||
        fail "$1: the log is not one whole line a step from step 1: $(cat "$run/log.jsonl")"
}

run="$tmp/run"
resume_flag() { [ -e "$run/checkpoint.bin" ] && echo --resume; }

# Each N kills one invocation inside its Nth atomic write. A fresh run writes config.json (1),
# then checkpoint.bin and model.bin after every step (2, 3, ...); a resumed one writes model.bin
# from the checkpoint (1), config.json (2), log.jsonl (3) and probe.jsonl (4) first.
# The kill in write 6 comes inside model.bin after the checkpoint of step 2, so model.bin lags
# one save behind; the next resume must write it from the checkpoint first.
for n in 1 2 3 1 3 4 6 2 7; do
    # in a subshell, so that the shell's "Killed" notice goes nowhere
    (VKQ_CRASH_AT_WRITE=$n train --out "$run" --steps $steps $(resume_flag)) 2>/dev/null
    code=$?
    [ $code -eq 137 ] || fail "write $n: exit $code, not killed there: $(cat "$tmp/err")"
    check_run "killed in write $n"
    if [ $n -eq 6 ]; then
        cmp -s "$run/checkpoint.bin" "$tmp/straight2/checkpoint.bin" ||
            fail "killed in write 6: the checkpoint is not the one of step 2"
        cmp -s "$run/model.bin" "$tmp/straight2/model.bin" &&
            fail "killed in write 6: model.bin should still hold step 1"
        lagging=1
    elif [ -n "${lagging:-}" ]; then
        cmp -s "$run/model.bin" "$tmp/straight2/model.bin" ||
            fail "killed in write $n: model.bin is not the checkpoint's weights after a resume"
        lagging=
    fi
done

# Kills at moments a timer picks: before, during or after the steps, any must be safe.
for delay in 0.6 0.8; do
    # exec, so that $! is vkquill itself
    code=$( (exec "$vkquill" train $options --out "$run" --steps $steps $(resume_flag) \
        >/dev/null 2>"$tmp/err" &
        sleep $delay
        kill -9 $! 2>/dev/null
        wait $!
        echo $?) 2>/dev/null)
    [ $code -eq 0 ] || [ $code -eq 137 ] || fail "timed kill: exit $code: $(cat "$tmp/err")"
    check_run "killed after ${delay}s"
done

# the run's own config.json holds every option of the run
"$vkquill" train --config "$run/config.json" --resume >/dev/null 2>"$tmp/err" ||
    fail "the last resume, from the run's config.json: $(cat "$tmp/err")"
check_run "the finished run"
for f in "$run"/*.tmp; do
    [ -e "$f" ] && fail "a temporary file is left: $f"
done
without_speed() { sed 's/,"tokens_per_s":[^}]*//' "$1"; }
[ "$(without_speed "$run/log.jsonl")" = "$(without_speed "$tmp/straight/log.jsonl")" ] ||
    fail "the log differs from the uninterrupted run's"
for f in probe.jsonl checkpoint.bin model.bin; do
    cmp -s "$run/$f" "$tmp/straight/$f" || fail "$f differs from the uninterrupted run's"
done

# A Hugging Face base: model/ (config.json, generation_config.json, model.safetensors, each an
# atomic write inside model.tmp/) follows each checkpoint. A fresh run writes config.json (1),
# then checkpoint.bin (2) and model/ (3-5) a step; write 7 is model/'s first file after the
# checkpoint of step 2. A resume writes model/ (1-3), config.json (4), log.jsonl (5).
"$vkquill" convert --model "$tmp/m/model.bin" --out "$tmp/hf" >/dev/null 2>"$tmp/err" ||
    fail "convert: $(cat "$tmp/err")"
options=$(echo "$options" | sed "s|$tmp/m/model.bin|$tmp/hf|")
train --out "$tmp/hf_straight" --steps $steps || fail "the uninterrupted HF run: $(cat "$tmp/err")"
train --out "$tmp/hf_straight2" --steps 2 || fail "the uninterrupted 2-step HF run: $(cat "$tmp/err")"
same_model() { diff -r "$run/model" "$1/model" >/dev/null 2>&1; }
run="$tmp/hf_run"
for n in 7 3 5; do
    (VKQ_CRASH_AT_WRITE=$n train --out "$run" --steps $steps $(resume_flag)) 2>/dev/null
    code=$?
    [ $code -eq 137 ] || fail "HF write $n: exit $code, not killed there: $(cat "$tmp/err")"
    check_run "HF run killed in write $n"
    if [ $n -eq 5 ]; then
        [ ! -e "$run/model.tmp" ] || fail "HF write 5: the resume left model.tmp/"
        same_model "$tmp/hf_straight2" ||
            fail "HF write 5: model/ is not the checkpoint's weights after a resume"
    else
        [ -e "$run/model.tmp" ] || fail "HF write $n: no model.tmp/ left by the kill"
        cmp -s "$run/checkpoint.bin" "$tmp/hf_straight2/checkpoint.bin" ||
            fail "HF write $n: the checkpoint is not the one of step 2"
        same_model "$tmp/hf_straight2" && fail "HF write $n: model/ should still hold step 1"
    fi
done
train --out "$run" --steps $steps --resume || fail "the last HF resume: $(cat "$tmp/err")"
check_run "the finished HF run"
for f in "$run"/*.tmp "$run"/model.old; do
    [ -e "$f" ] && fail "a temporary file is left: $f"
done
same_model "$tmp/hf_straight" || fail "model/ differs from the uninterrupted HF run's"
for f in probe.jsonl checkpoint.bin; do
    cmp -s "$run/$f" "$tmp/hf_straight/$f" || fail "HF $f differs from the uninterrupted run's"
done

if [ $failures -ne 0 ]; then
    echo "$failures crash-safety check(s) failed"
    exit 1
fi
echo "all crash-safety checks passed"
