#!/bin/sh
# Hugging Face directories through the command line.
#   hf_cli.sh VKQUILL train    init, convert to a bfloat16 directory, train on it (twice: the
#                              same weights come out), then generate and evaluate with the
#                              trained directory (exact resume is test_train's)
#   hf_cli.sh VKQUILL stories  stories260K converted: greedy output equal to the llama2.c
#                              file's (exit 77 when ../shared/models is absent)
vkquill=$1 mode=$2
models="$(dirname "$0")/../../shared/models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

if [ "$mode" = stories ]; then
    if [ ! -r "$models/stories260K.bin" ] || [ ! -r "$models/tok512.bin" ]; then
        echo "skipped: $models/stories260K.bin or tok512.bin is absent"
        exit 77
    fi
    "$vkquill" convert --model "$models/stories260K.bin" --out "$tmp/hf" >/dev/null ||
        fail "convert stories260K"
    for prompt in "Once upon a time" "The cat" "Lily and Ben went to the park"; do
        a=$("$vkquill" generate --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin" \
            --prompt "$prompt" --temperature 0 --steps 120) || fail "generate from the file"
        b=$("$vkquill" generate --model "$tmp/hf" --tokenizer "$models/tok512.bin" \
            --prompt "$prompt" --temperature 0 --steps 120) || fail "generate from the directory"
        [ "$a" = "$b" ] || fail "\"$prompt\": the directory gives \"$b\", the file \"$a\""
        echo "ok: \"$prompt\": the same greedy text from the file and the directory"
    done
    exit 0
fi

"$vkquill" init --out "$tmp/m" --dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 \
    --seq-len 256 >/dev/null || fail "init"
"$vkquill" convert --model "$tmp/m/model.bin" --out "$tmp/hf" --dtype bf16 >/dev/null ||
    fail "convert"
"$vkquill" data synth --out "$tmp/synth" --users 4 --per-user 4 >/dev/null || fail "data synth"
train() {
    "$vkquill" train --model "$tmp/hf" --tokenizer "$tmp/m/tokenizer.bin" \
        --data "$tmp/synth/train.jsonl" --method nextquill --batch 2 --steps 4 \
        --max-prompt-tokens 200 --max-target-tokens 16 "$@" 2>/dev/null
}
train --out "$tmp/straight" || fail "train on the directory"
train --out "$tmp/again" || fail "train on the directory again"
for f in config.json generation_config.json model.safetensors; do
    [ -s "$tmp/straight/model/$f" ] || fail "the run did not write model/$f"
done
[ -e "$tmp/straight/model.bin" ] && fail "a Hugging Face run also wrote model.bin"
grep -q '"torch_dtype":[[:space:]]*"bfloat16"' "$tmp/straight/model/config.json" ||
    fail "the written config.json does not name bfloat16"
cmp -s "$tmp/straight/model/model.safetensors" "$tmp/again/model/model.safetensors" ||
    fail "the same run twice wrote different weights"
cmp -s "$tmp/straight/model/model.safetensors" "$tmp/hf/model.safetensors" &&
    fail "training left the weights unchanged"
echo "ok: trained and wrote a bfloat16 directory"
"$vkquill" generate --model "$tmp/straight/model" --tokenizer "$tmp/m/tokenizer.bin" \
    --prompt "hello" --temperature 0 --steps 24 >/dev/null || fail "generate from the run"
"$vkquill" eval --model "$tmp/straight/model" --tokenizer "$tmp/m/tokenizer.bin" \
    --data "$tmp/synth/test.jsonl" --max-prompt-tokens 200 --max-new-tokens 8 --out "$tmp/eval" \
    >/dev/null ||
    fail "eval of the run"
[ -s "$tmp/eval/metrics.json" ] || fail "eval wrote no metrics"
echo "ok: generate and eval read the trained directory"
