#!/bin/sh
# The README's side-by-side benchmarks in one run: each vkquill figure next to its reference
# taken in the same minutes (OpenBLAS's fastest correct kernel for the 1024^3 product, PyTorch
# on CPU for the training steps), and the NextQuill step against the SFT step. Run it from
# the repository root with nothing else running; it prints what each command printed, the
# CPU, the Mesa version and the host's steal time over the run (a VM's neighbours show there).
#
#   tools/bench_side_by_side.sh [STORIES260K.bin]
#
# Needs a built build/vkquill (make build), python3-torch and libopenblas0-pthread for
# /usr/bin/python3, and the stories260K checkpoint (default ../shared/models/stories260K.bin).
# The 25.4M-parameter model and the demo's data are made in a temporary directory, removed
# at the end. VKQUILL and TORCH_PYTHON override the two programs.
set -eu
vkquill=${VKQUILL:-build/vkquill}
python=${TORCH_PYTHON:-/usr/bin/python3}
stories=${1:-../shared/models/stories260K.bin}
for need in "$vkquill" "$stories" assets/base/model.bin tools/bench_torch.py; do
    [ -e "$need" ] || { echo "bench_side_by_side: $need not found (run from the repository root)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

last_line() { "$@" 2>&1 | tail -n 1; }
steal_jiffies() { awk '/^cpu /{print $9}' /proc/stat; }
total_jiffies() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

echo "== machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'
echo "$(nproc) cores; $("$vkquill" devices | grep -m1 driver | sed 's/^ *//')"
steal0=$(steal_jiffies) total0=$(total_jiffies)
date -u +"started %H:%M UTC"

echo "== OpenBLAS sgemm 1024^3, best correct core type"
last_line "$python" tools/openblas_best.py --runs 10
echo "== vkquill matmul 1024^3"
for form in nn nt tn; do last_line "$vkquill" bench matmul --runs 20 --form $form; done

echo "== stories260K, 8 x 256, twice"
for _ in 1 2; do
    last_line "$vkquill" bench train --model "$stories" --batch 8 --seq 256 --runs 5
    last_line "$python" tools/bench_torch.py --model "$stories" --batch 8 --seq 256 --steps 5
done

echo "== 25.4M parameters (dim 512, hidden 1376, 8 layers, 8 heads), 4 x 256, twice"
"$vkquill" init --out "$work/m25" --dim 512 --hidden 1376 --layers 8 --heads 8 --kv-heads 8 \
    --seed 1 > /dev/null
for _ in 1 2; do
    last_line "$vkquill" bench train --model "$work/m25/model.bin" --batch 4 --seq 256 --runs 5
    last_line "$python" tools/bench_torch.py --model "$work/m25/model.bin" --batch 4 --seq 256 \
        --steps 5
done

echo "== nextquill against sft on the demo's data (make demo's: 48 users, 8 items, seed 1)"
"$vkquill" data synth --out "$work/data" --users 48 --per-user 8 --seed 1 > /dev/null
for method in sft nextquill sft nextquill; do
    last_line "$vkquill" bench train --model assets/base/model.bin \
        --tokenizer assets/base/tokenizer.bin --data "$work/data/train.jsonl" --method $method \
        --batch 8 --runs 8
done
echo "== the same on the 25.4M model (byte tokens), batch 4"
for method in sft nextquill sft nextquill; do
    last_line "$vkquill" bench train --model "$work/m25/model.bin" \
        --tokenizer "$work/m25/tokenizer.bin" --data "$work/data/train.jsonl" --method $method \
        --batch 4 --runs 4
done

date -u +"ended %H:%M UTC"
awk -v s="$(($(steal_jiffies) - steal0))" -v t="$(($(total_jiffies) - total0))" \
    'BEGIN { printf "steal %.1f %% of CPU time over the run\n", t ? 100 * s / t : 0 }'
