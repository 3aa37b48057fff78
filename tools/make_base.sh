#!/bin/sh
# Rebuilds the demo's base model, assets/base/{model.bin,tokenizer.bin}, with vkquill itself:
# a random byte-level Llama (seed 1) pre-trained with the sft method on the corpus that
# tools/make_base_corpus.py generates (seed 1). Lavapipe at 512 bits gives the committed bytes
# (about 12 minutes on two cores); another device or vector width may round differently.
# Usage: tools/make_base.sh [BUILD_DIR]   (default build; needs python3)
set -eu
VKQUILL=${1:-build}/vkquill
WORK=${VKQ_BASE_WORK:-$(mktemp -d)}
trap 'rm -rf "$WORK"' EXIT
python3 tools/make_base_corpus.py --documents 20000 --echoes 0.7 --seed 1 > "$WORK/corpus.txt"
"$VKQUILL" data convert --text "$WORK/corpus.txt" --out "$WORK/corpus.jsonl"
"$VKQUILL" init --out "$WORK/init" --dim 64 --hidden 176 --layers 4 --heads 4 --kv-heads 4 \
    --seq-len 512 --seed 1
"$VKQUILL" train --model "$WORK/init/model.bin" --tokenizer "$WORK/init/tokenizer.bin" \
    --data "$WORK/corpus.jsonl" --out "$WORK/run" --method sft --steps 1500 --batch 16 \
    --lr 3e-3 --warmup 0.05 --schedule cosine --weight-decay 0 --max-prompt-tokens 64 \
    --max-target-tokens 320 --seed 1 --log-every 50 --save-every 250
mkdir -p assets/base
cp "$WORK/run/model.bin" assets/base/model.bin
cp "$WORK/init/tokenizer.bin" assets/base/tokenizer.bin
sha256sum assets/base/model.bin assets/base/tokenizer.bin
