#!/bin/sh
# PEFT adapters through the command line: a LoRA run writes RUN/adapter, which an independent
# reader (tools/check_peft_adapter.py) checks against the base and the run's folded model;
# vkquill merge gives the same model; generate and eval with --adapter equal them on the merged
# model; a run started from the adapter with lr 1e-30 writes it back unchanged; a Hugging Face base
# merges into a directory of its dtype.
vkquill=$1
root="$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$vkquill" init --out "$tmp/m" --dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 \
    --seq-len 256 >/dev/null || fail "init"
"$vkquill" data synth --out "$tmp/synth" --users 4 --per-user 4 >/dev/null || fail "data synth"
base="$tmp/m/model.bin" tok="$tmp/m/tokenizer.bin"
train() {
    "$vkquill" train --tokenizer "$tok" --data "$tmp/synth/train.jsonl" --method sft --batch 2 \
        --max-prompt-tokens 200 --max-target-tokens 16 "$@" 2>/dev/null
}
train --model "$base" --out "$tmp/run" --steps 6 --lr 0.05 --lora-r 4 --lora-alpha 8 \
    --lora-targets all-linear || fail "LoRA run"
/usr/bin/python3 "$root/tools/check_peft_adapter.py" "$tmp/run/adapter" "$base" \
    "$tmp/run/model.bin" 4 8 q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj ||
    fail "the adapter does not check"

"$vkquill" merge --model "$base" --adapter "$tmp/run/adapter" --out "$tmp/merged.bin" \
    >/dev/null || fail "merge"
cmp -s "$tmp/merged.bin" "$tmp/run/model.bin" || fail "merge differs from the run's own model"
echo "ok: vkquill merge gives the run's folded model"

gen() { "$vkquill" generate --tokenizer "$tok" --temperature 0 --steps 40 "$@"; }
for prompt in "hello" "the cat sat"; do
    a=$(gen --model "$base" --adapter "$tmp/run/adapter" --prompt "$prompt") ||
        fail "generate --adapter"
    b=$(gen --model "$tmp/merged.bin" --prompt "$prompt") || fail "generate on the merged model"
    c=$(gen --model "$base" --prompt "$prompt") || fail "generate on the base"
    [ "$a" = "$b" ] || fail "\"$prompt\": --adapter gives \"$a\", the merged model \"$b\""
    [ "$a" = "$c" ] && fail "\"$prompt\": the adapter changes nothing (\"$a\")"
done
echo "ok: generate --adapter equals the merged model and differs from the base"

ev() {
    "$vkquill" eval --tokenizer "$tok" --data "$tmp/synth/test.jsonl" --max-new-tokens 8 \
        --max-prompt-tokens 200 "$@" >/dev/null
}
ev --model "$base" --adapter "$tmp/run/adapter" --out "$tmp/eval_a" || fail "eval --adapter"
ev --model "$tmp/merged.bin" --out "$tmp/eval_m" || fail "eval on the merged model"
cmp -s "$tmp/eval_a/predictions.jsonl" "$tmp/eval_m/predictions.jsonl" ||
    fail "eval --adapter predicts otherwise than the merged model"
echo "ok: eval --adapter equals the merged model"

train --model "$base" --out "$tmp/again" --steps 1 --lr 1e-30 --adapter "$tmp/run/adapter" ||
    fail "a run from the adapter"
cmp -s "$tmp/run/adapter/adapter_model.safetensors" \
    "$tmp/again/adapter/adapter_model.safetensors" ||
    fail "a run from the adapter with lr 1e-30 changed it"
grep -q '"r":[[:space:]]*4' "$tmp/again/adapter/adapter_config.json" ||
    fail "the run did not take the adapter's r"
echo "ok: a run starts from the adapter and takes its options"

"$vkquill" convert --model "$base" --out "$tmp/hf" --dtype bf16 >/dev/null || fail "convert"
train --model "$tmp/hf" --out "$tmp/hfrun" --steps 4 --lr 0.05 --lora-r 2 || fail "LoRA run on HF"
[ -s "$tmp/hfrun/adapter/adapter_model.safetensors" ] || fail "no adapter from the HF run"
"$vkquill" merge --model "$tmp/hf" --adapter "$tmp/hfrun/adapter" --out "$tmp/hfmerged" \
    >/dev/null || fail "merge into a directory"
grep -q '"torch_dtype":[[:space:]]*"bfloat16"' "$tmp/hfmerged/config.json" ||
    fail "the merged directory is not bfloat16 like its base"
a=$(gen --model "$tmp/hf" --adapter "$tmp/hfrun/adapter" --prompt "hello")
b=$(gen --model "$tmp/hfrun/model" --prompt "hello")
[ "$a" = "$b" ] || fail "HF: --adapter gives \"$a\", the run's folded model \"$b\""
echo "ok: a Hugging Face base merges into a bfloat16 directory"
