#!/bin/sh
# Bad input to the command line: one clear line on stderr, nothing on stdout, non-zero exit.
vkquill=$1
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_error DESCRIPTION SUBSTRING [env assignments...] -- ARGS...
expect_error() {
    what=$1 want=$2
    shift 2
    envs=""
    while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    shift
    env $envs "$vkquill" "$@" >"$tmp/out" 2>"$tmp/err"
    code=$?
    lines=$(wc -l <"$tmp/err")
    if [ $code -eq 0 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ] || ! grep -qF -- "$want" "$tmp/err"; then
        echo "FAIL: $what (exit $code, $lines stderr lines)"
        sed 's/^/  stderr: /' "$tmp/err"
        sed 's/^/  stdout: /' "$tmp/out"
        failures=$((failures + 1))
    else
        printf 'ok: %s: %s\n' "$what" "$(cat "$tmp/err")"
    fi
}

expect_error "no driver" "mesa-vulkan-drivers" \
    VK_ICD_FILENAMES=/nonexistent/icd.json VK_DRIVER_FILES=/nonexistent/icd.json -- devices
expect_error "no loader" "apt-get install libvulkan1" \
    VKQ_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 -- devices
expect_error "not a loader" "is not a Vulkan loader" VKQ_VULKAN_LIBRARY=libc.so.6 -- devices
expect_error "unknown device" "matches none of the" VKQ_DEVICE=no-such-gpu -- selftest
expect_error "device index out of range" "matches none of the" VKQ_DEVICE=99 -- selftest
expect_error "unknown variant" "VKQ_VARIANT=fast" VKQ_VARIANT=fast -- selftest --kernel reduce
expect_error "unknown command" "unknown command 'frobnicate'" -- frobnicate
expect_error "unknown option" "unknown option '--fast'" -- devices --fast
expect_error "missing benchmark" "name a benchmark" -- bench
expect_error "unknown benchmark" "unknown benchmark 'sort'" -- bench sort
expect_error "non-numeric size" "--m expects a positive integer, got 'abc'" -- bench matmul --m abc
expect_error "zero size" "--k expects a positive integer, got '0'" -- bench matmul --k 0
expect_error "negative size" "--n expects a positive integer, got '-5'" -- bench matmul --n -5
expect_error "missing value" "--runs needs a value" -- bench matmul --runs
expect_error "unknown form" "--form expects nn, nt or tn, got 'tt'" -- bench matmul --form tt
expect_error "all-reduce too large" "--mib takes 1 to 65536" -- bench allreduce --mib 70000
expect_error "unknown kernel family" "no kernel family is named 'conv'" -- selftest --kernel conv
expect_error "unknown selftest variant" "--variant expects cpu or gpu" -- selftest --variant tpu

# Model, training and evaluation commands.
"$vkquill" init --out "$tmp/m" --dim 16 --hidden 24 --layers 1 --heads 2 --kv-heads 1 --seq-len 32 >/dev/null ||
    { echo "FAIL: init of a tiny model"; failures=$((failures + 1)); }
printf '' >"$tmp/empty.txt"
printf 'not a model' >"$tmp/junk.bin"
printf '{"lr": 0.1,\n "steps": }\n' >"$tmp/bad.json"
m="$tmp/m/model.bin" t="$tmp/m/tokenizer.bin"
expect_error "init without --out" "init: --out DIR is required" -- init
expect_error "init with heads not dividing dim" "n_heads" -- init --out "$tmp/x" --dim 10 --heads 4
expect_error "init with kv heads not dividing heads" "n_kv_heads" -- init --out "$tmp/x" --heads 8 --kv-heads 3
expect_error "generate without a model" "--model and --tokenizer are required" -- generate --prompt hi
expect_error "generate with two prompt sources" "exactly one of --prompt and --prompts-file" \
    -- generate --model "$m" --tokenizer "$t" --prompt hi --prompts-file "$tmp/empty.txt"
expect_error "generate with a negative temperature" "--temperature must be >= 0" \
    -- generate --model "$m" --tokenizer "$t" --prompt hi --temperature -1
expect_error "generate with top-p above 1" "--top-p must be in (0, 1]" \
    -- generate --model "$m" --tokenizer "$t" --prompt hi --top-p 2
expect_error "generate from a missing model" "/nonexistent.bin" \
    -- generate --model /nonexistent.bin --tokenizer "$t" --prompt hi
expect_error "generate from a foreign model file" "junk.bin" \
    -- generate --model "$tmp/junk.bin" --tokenizer "$t" --prompt hi
expect_error "generate with a file that is no tokenizer" "tiny_llama.bin" \
    -- generate --model "$m" --tokenizer "$(dirname "$0")/../tests/golden/tiny_llama.bin" --prompt hi
expect_error "generate past the context" "exceed the model's context of 32" \
    -- generate --model "$m" --tokenizer "$t" --prompt hi --steps 100
expect_error "generate from an empty prompts file" "holds no prompt" \
    -- generate --model "$m" --tokenizer "$t" --prompts-file "$tmp/empty.txt"
expect_error "train without data" "--data is required" -- train --model "$m" --tokenizer "$t" --out "$tmp/run"
expect_error "train with an unknown method" "method must be one of sft mce dce nextquill" \
    -- train --model "$m" --tokenizer "$t" --data x --out "$tmp/run" --method magic
expect_error "train with a malformed number" "--lr: lr expects a number, got 'fast'" -- train --lr fast
expect_error "train with an unknown option" "unknown option '--learning-rate'" -- train --learning-rate 1
expect_error "train with a missing config" "/nonexistent.json: cannot open" -- train --config /nonexistent.json
expect_error "train with a malformed config" "bad.json:2:" -- train --config "$tmp/bad.json"
expect_error "train fixed DCE without a reference" "--ref-model" \
    -- train --model "$m" --tokenizer "$t" --data x --out "$tmp/run" --dce fixed
expect_error "train with an unknown LoRA target" "'gate_proj' is not one of q, k, v, o, gate, up, down" \
    -- train --model "$m" --tokenizer "$t" --data x --out "$tmp/run" --lora-r 8 --lora-targets q,gate_proj
expect_error "train with LoRA dropout 1" "dropout must be in [0, 1)" \
    -- train --model "$m" --tokenizer "$t" --data x --out "$tmp/run" --lora-r 8 --lora-dropout 1
expect_error "train with an unknown recompute mode" "recompute must be one of none layers" \
    -- train --recompute all
expect_error "train with an unknown base dtype" "base_dtype must be one of auto f32 bf16 f16" \
    -- train --base-dtype f8
expect_error "train with a 16-bit base and no LoRA" "--base-dtype bf16 needs LoRA" \
    -- train --model "$m" --tokenizer "$t" --data x --out "$tmp/run" --base-dtype bf16
expect_error "bench train with a 16-bit base and no LoRA" "--base-dtype f16 needs LoRA" \
    -- bench train --model "$m" --seq 8 --base-dtype f16
expect_error "bench train with an unknown base dtype" "base_dtype must be one of" \
    -- bench train --model "$m" --seq 8 --lora-r 4 --base-dtype half
expect_error "plan with a 16-bit base and no LoRA" "--base-dtype bf16 needs LoRA" \
    -- plan --model "$m" --base-dtype bf16
expect_error "bench train with a bad LoRA rank" "lora_r expects an integer" \
    -- bench train --model "$m" --seq 8 --lora-r four
expect_error "train on missing data" "/nonexistent.jsonl" \
    -- train --model "$m" --tokenizer "$t" --data /nonexistent.jsonl --out "$tmp/run"
expect_error "eval without data" "--model, --tokenizer and --data are required" -- eval --model "$m"
expect_error "eval on missing data" "/nonexistent.jsonl" \
    -- eval --model "$m" --tokenizer "$t" --data /nonexistent.jsonl
expect_error "data without a subcommand" "data: name a subcommand: synth" -- data
expect_error "data with an unknown subcommand" "data: unknown subcommand 'shuffle'" -- data shuffle
expect_error "data synth without --out" "data synth: --out DIR is required" -- data synth --users 2
expect_error "data synth with no users" "--users expects a positive integer, got '0'" \
    -- data synth --out "$tmp/synth" --users 0
expect_error "data synth with too few items a user" "at least 3 items per user" \
    -- data synth --out "$tmp/synth" --per-user 2
expect_error "data synth with too many users" "must be 1 to 10000, got 20000" \
    -- data synth --out "$tmp/synth" --users 20000
printf 'a file' >"$tmp/plain"
expect_error "data synth under a file" "plain/synth: cannot create the directory" \
    -- data synth --out "$tmp/plain/synth"
[ -e "$tmp/synth" ] && { echo "FAIL: a refused data synth left a directory"; failures=$((failures + 1)); }
printf 'one paragraph\n' >"$tmp/para.txt"
printf '{"task": "LaMP-7", "golds": [{"id": "1", "output": "x"}]}' >"$tmp/outputs.json"
printf '[{"id": "1", "input": }]' >"$tmp/questions.json"
conv="$tmp/converted.jsonl"
expect_error "data convert without --out" "data convert: --out FILE.jsonl is required" \
    -- data convert --text "$tmp/para.txt"
expect_error "data convert with both --lamp and --text" "give exactly one of --lamp" \
    -- data convert --lamp "$tmp/questions.json" "$tmp/outputs.json" --text "$tmp/para.txt" --out "$conv"
expect_error "data convert of a missing file" "/nonexistent.txt: cannot open" \
    -- data convert --text /nonexistent.txt --out "$conv"
expect_error "data convert of a malformed LaMP file" "questions.json:1:23: malformed JSON" \
    -- data convert --lamp "$tmp/questions.json" "$tmp/outputs.json" --out "$conv"
printf '[{"id": "1", "input": "", "profile": [{"text": "t", "date": -1700000000}]}]' >"$tmp/questions.json"
expect_error "data convert of a LaMP profile with a negative time" \
    'field "profile[0].date" is -1.7e+09: a time as a number must be a whole number' \
    -- data convert --lamp "$tmp/questions.json" "$tmp/outputs.json" --out "$conv"
[ -e "$conv" ] || [ -e "$conv.tmp" ] &&
    { echo "FAIL: a failed data convert left a file"; failures=$((failures + 1)); }
[ -e "$tmp/run/checkpoint.bin" ] && { echo "FAIL: a failed run left a checkpoint"; failures=$((failures + 1)); }

printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$tmp/wordpiece.json"
printf '{"model": ' >"$tmp/cut.json"
expect_error "tokenize without a tokenizer" "tokenize: --tokenizer is required" -- tokenize --text hi
expect_error "tokenize without text" "tokenize: give --text TEXT or --file FILE" \
    -- tokenize --tokenizer "$tmp/wordpiece.json"
expect_error "tokenize of a missing file" "/nonexistent.txt: cannot open" \
    -- tokenize --tokenizer "$tmp/wordpiece.json" --file /nonexistent.txt
expect_error "tokenize with an unknown model type" "model type \"WordPiece\" is not supported" \
    -- tokenize --tokenizer "$tmp/wordpiece.json" --text hi
expect_error "tokenize with a cut tokenizer.json" "cut.json:1:11: malformed JSON" \
    -- tokenize --tokenizer "$tmp/cut.json" --text hi
expect_error "tokenize with a directory lacking tokenizer.json" "a directory without a tokenizer.json" \
    -- tokenize --tokenizer "$tmp" --text hi
expect_error "bench tokenize without a tokenizer" "bench tokenize: --tokenizer T[,T...] is required" \
    -- bench tokenize
expect_error "train with an unknown chat template" "chat_template" \
    -- train --model m.bin --tokenizer t.bin --data d.jsonl --out "$tmp/run" --chat-template zephyr
expect_error "eval with an unknown chat template" "unknown chat template \"zephyr\"" \
    -- eval --model "$tmp/wordpiece.json" --tokenizer "$tmp/wordpiece.json" --data d.jsonl \
    --chat-template zephyr

# Failures once the training pairs exist, prompts too long for the model, eval prompts that
# leave no room to generate.
"$vkquill" init --out "$tmp/m256" --dim 16 --hidden 24 --layers 1 --heads 2 --kv-heads 1 --seq-len 256 >/dev/null ||
    { echo "FAIL: init of a model with a context of 256"; failures=$((failures + 1)); }
m256="$tmp/m256/model.bin"
long=$(printf '%0400d' 0)
printf '{"input": "hi", "target": "ok"}\n' >"$tmp/good.jsonl"
printf '{"input": "hi", "target": "ok"}\n{"input": "%s", "target": "ok"}\n' "$long" >"$tmp/long2.jsonl"
printf '{"input": "hi", "target": "ok"}\n{"input": }\n' >"$tmp/badval.jsonl"
printf '{"input": "hi", "target": "N\u0000ice"}\n' >"$tmp/nul.jsonl"
printf '{"input": "hi", "target": "ok", "target": "no"}\n' >"$tmp/dupkey.jsonl"
expect_error "train with a missing val file" "/nonexistent/val.jsonl: cannot open" \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/good.jsonl" --val /nonexistent/val.jsonl --out "$tmp/run"
expect_error "train with a bad val line" "badval.jsonl:2:1" \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/good.jsonl" --val "$tmp/badval.jsonl" --out "$tmp/run"
expect_error "train with a second prompt over the limit" "long2.jsonl: sample at line 2: the prompt needs" \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/long2.jsonl" --max-prompt-tokens 100 --out "$tmp/run"
expect_error "train with no prompt limit past the context" "more than the model's context length 256" \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/long2.jsonl" --max-prompt-tokens 0 --out "$tmp/run"
expect_error "train on a target with a \\u0000 escape" 'nul.jsonl:1:29: \u0000 (a NUL character) is not allowed' \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/nul.jsonl" --out "$tmp/run"
expect_error "train on a sample with a key twice" 'dupkey.jsonl:1: duplicate key "target"' \
    -- train --model "$m256" --tokenizer "$t" --data "$tmp/dupkey.jsonl" --out "$tmp/run"
[ -e "$tmp/run" ] && { echo "FAIL: a refused run left its directory"; failures=$((failures + 1)); }
expect_error "eval of a prompt longer than the context" "leaves no room to generate" \
    -- eval --model "$m" --tokenizer "$t" --data "$tmp/good.jsonl"
printf '{"lr": 0.1, "steps": 3, "lr": 0.2}' >"$tmp/dup.json"
expect_error "train with a config key twice" 'dup.json:1: duplicate key "lr" in one object' -- train --config "$tmp/dup.json"
printf '{"l\\nr\377": 0.1}' >"$tmp/oddkey.json"
expect_error "train with a config key of a newline and a stray byte" 'unknown option "l\nr\xFF"' \
    -- train --config "$tmp/oddkey.json"
expect_error "train with an option of a newline" "unknown option '--l\\nr'" -- train "--l
r" 1
expect_error "unknown command with a tab" "unknown command 'a\\tb'" -- "a	b"

# Empty directory names.
expect_error "init with an empty --out" "init: --out must not be empty" -- init --out ""
expect_error "data synth with an empty --out" "data synth: --out must not be empty" -- data synth --out ""
expect_error "eval with an empty --out" "eval: --out must not be empty" \
    -- eval --model "$m" --tokenizer "$t" --data "$tmp/good.jsonl" --out ""
expect_error "demo with an empty --out" "demo: --out must not be empty" -- demo --out ""

# Hugging Face directories and vkquill convert.
golden_hf="$(dirname "$0")/golden/hf/llama3"
mkdir -p "$tmp/nohf" "$tmp/notes"
expect_error "generate from a directory without config.json" "nohf/config.json: cannot open" \
    -- generate --model "$tmp/nohf" --tokenizer "$t" --prompt hi
expect_error "generate from a directory without its tokenizer.json" "without a tokenizer.json" \
    -- generate --model "$golden_hf" --prompt hi
expect_error "generate from a llama2.c file without --tokenizer" "--model and --tokenizer are required" \
    -- generate --model "$m" --prompt hi
expect_error "train on a llama2.c file without --tokenizer" "train: --tokenizer is required" \
    -- train --model "$m" --data x --out "$tmp/run"
expect_error "generate with a tokenizer of another vocabulary" "$t" \
    -- generate --model "$golden_hf" --tokenizer "$t" --prompt hi
expect_error "train from a directory without config.json" "nohf/config.json: cannot open" \
    -- train --model "$tmp/nohf" --tokenizer "$t" --data x --out "$tmp/run"
expect_error "eval of a directory without config.json" "nohf/config.json: cannot open" \
    -- eval --model "$tmp/nohf" --tokenizer "$t" --data x
expect_error "bench of a directory without config.json" "nohf/config.json: cannot open" \
    -- bench generate --model "$tmp/nohf"
expect_error "convert without --out" "convert: --model M.bin and --out DIR are required" \
    -- convert --model "$m"
expect_error "convert of a directory" "is a directory; --model takes a llama2.c checkpoint" \
    -- convert --model "$golden_hf" --out "$tmp/hf"
expect_error "convert to an unknown dtype" "--dtype expects f32, bf16 or f16, got 'f8'" \
    -- convert --model "$m" --out "$tmp/hf" --dtype f8
expect_error "convert of a foreign file" "junk.bin" -- convert --model "$tmp/junk.bin" --out "$tmp/hf"
expect_error "convert over a directory that is not a model" "notes: exists and is not a model" \
    -- convert --model "$m" --out "$tmp/notes"
[ -e "$tmp/hf" ] || [ -e "$tmp/hf.tmp" ] || [ -e "$tmp/notes.tmp" ] &&
    { echo "FAIL: a failed convert left a directory"; failures=$((failures + 1)); }
# vkquill export gguf: one line, and no file (nor temporary) left behind.
golden="$(dirname "$0")/golden/hf/qwen3"
mkdir "$tmp/hf" && cp "$golden/config.json" "$golden/model.safetensors" "$(dirname "$0")"/data/gguf/qwen/* "$tmp/hf/"
expect_error "export without a format" "export: name a format: gguf" -- export
expect_error "export to an unknown format" "export: unknown format 'onnx' (gguf)" -- export onnx
expect_error "export gguf without --out" "--model DIR and --out FILE.gguf are required" \
    -- export gguf --model "$tmp/hf"
expect_error "export gguf with an unknown type" "unknown GGUF type 'q4_0' (f16, bf16 or f32)" \
    -- export gguf --model "$tmp/hf" --out "$tmp/m.gguf" --type q4_0
expect_error "export gguf from a missing directory" "$tmp/nothing" \
    -- export gguf --model "$tmp/nothing" --out "$tmp/m.gguf"
expect_error "export gguf to an unwritable place" "$tmp/no/dir/m.gguf.tmp: cannot create" \
    -- export gguf --model "$tmp/hf" --out "$tmp/no/dir/m.gguf"
printf '{"model_type": "qwen3",' >"$tmp/hf/config.json"
expect_error "export gguf with a bad config" "config.json" \
    -- export gguf --model "$tmp/hf" --out "$tmp/m.gguf"
expect_error "convert with an empty --out" "convert: --out must not be empty" -- convert --model "$m" --out ""
expect_error "export gguf with an empty --out" "export gguf: --out must not be empty" \
    -- export gguf --model "$tmp/hf" --out ""
expect_error "export to a format with a newline" "unknown format 'on\\nnx'" -- export "on
nx"
expect_error "convert to a dtype with a tab" "got 'f\\t8'" -- convert --model "$m" --out "$tmp/hf2" --dtype "f	8"
if [ -e "$tmp/m.gguf" ] || [ -e "$tmp/m.gguf.tmp" ]; then
    echo "FAIL: a failed export left a file behind"
    failures=$((failures + 1))
fi

printf '{"model_type": "llama", "hidden_size": 64' >"$tmp/cut_config.json"
expect_error "plan without a model" "plan: --model is required" -- plan
expect_error "plan of a missing model" "plan: /nonexistent.bin: no such file or directory" \
    -- plan --model /nonexistent.bin
expect_error "plan of a cut config.json" "cut_config.json" -- plan --model "$tmp/cut_config.json"
expect_error "plan with --seq and --max-prompt-tokens" "give --seq or --max-prompt-tokens" \
    -- plan --model "$tmp/cut_config.json" --seq 512 --max-prompt-tokens 100
expect_error "plan with no room for a prompt" "--seq 10 leaves no room for a prompt" \
    -- plan --model "$tmp/cut_config.json" --seq 10 --max-target-tokens 9
expect_error "plan with bad heap sizes" "--heap-gib expects sizes in GiB" \
    -- plan --model "$tmp/wordpiece.json" --heap-gib 8,lots
expect_error "plan with an unknown method" "method" \
    -- plan --model "$tmp/cut_config.json" --method magic
expect_error "plan with bad LoRA targets" "lora" \
    -- plan --model "$tmp/cut_config.json" --lora-r 8 --lora-targets q,zz

# PEFT adapters: merge, --adapter.
mkdir -p "$tmp/ad_dora" "$tmp/ad_json" "$tmp/ad_type" "$tmp/ad_r2"
printf '{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "use_dora": true, "target_modules": ["q_proj"]}' \
    >"$tmp/ad_dora/adapter_config.json"
printf '{"peft_type": "LORA", "r": 2,' >"$tmp/ad_json/adapter_config.json"
printf '{"peft_type": "IA3"}' >"$tmp/ad_type/adapter_config.json"
printf '{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}' \
    >"$tmp/ad_r2/adapter_config.json"
expect_error "merge without arguments" "--model BASE, --adapter DIR and --out are required" -- merge
expect_error "merge with no adapter directory" "not an adapter directory" \
    -- merge --model "$m" --adapter "$tmp/nowhere" --out "$tmp/merged"
expect_error "merge with an adapter config that is not JSON" "not valid JSON" \
    -- merge --model "$m" --adapter "$tmp/ad_json" --out "$tmp/merged"
expect_error "merge with a DoRA adapter" "use_dora true is not supported" \
    -- merge --model "$m" --adapter "$tmp/ad_dora" --out "$tmp/merged"
expect_error "merge with an adapter without tensors" "adapter_model.safetensors" \
    -- merge --model "$m" --adapter "$tmp/ad_r2" --out "$tmp/merged"
[ -e "$tmp/merged" ] || [ -e "$tmp/merged.bin" ] && { echo "FAIL: a refused merge wrote output"; failures=$((failures + 1)); }
expect_error "generate with an adapter of another type" 'peft_type must be "LORA"' \
    -- generate --model "$m" --tokenizer "$t" --adapter "$tmp/ad_type" --prompt hi
expect_error "eval with an adapter of another type" 'peft_type must be "LORA"' \
    -- eval --model "$m" --tokenizer "$t" --adapter "$tmp/ad_type" --data "$tmp/empty.txt"
expect_error "train with LoRA options other than the adapter's" "differ from the adapter" \
    -- train --model "$m" --tokenizer "$t" --data "$tmp/empty.txt" --out "$tmp/run" \
    --adapter "$tmp/ad_r2" --lora-r 8

if [ $failures -ne 0 ]; then
    echo "$failures CLI error check(s) failed"
    exit 1
fi
echo "all CLI error checks passed"
