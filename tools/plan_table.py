#!/usr/bin/env python3
"""The README's laptop table: `vkquill plan --json` for each published config, LoRA rank,
tokens a pass, recomputation and batch size. Every figure is what vkquill plan prints.

usage: tools/plan_table.py path/to/vkquill > table.md
"""
import json
import os
import subprocess
import sys

MODELS = ["Qwen2.5-0.5B", "Qwen2.5-1.5B", "Qwen2.5-3B", "Llama-3.2-1B", "Llama-3.2-3B"]
LAPTOPS = [8, 16, 32]
HERE = os.path.dirname(os.path.abspath(__file__))


def plan(vkquill, model, r, seq, recompute, batch):
    args = [vkquill, "plan", "--model", os.path.join(HERE, "..", "tests", "data", "hf_configs", model),
            "--method", "nextquill", "--lora-r", str(r), "--seq", str(seq), "--batch", str(batch),
            "--recompute", recompute, "--heap-gib", ",".join(str(g) for g in LAPTOPS), "--json"]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def cell(p):
    fits = [g for g in LAPTOPS if p["fits"]["%d GiB" % g]]
    where = "fits %d GB" % fits[0] if fits else "over 32 GB"
    return "%.1f GiB, %s" % (p["reserved_bytes"] / 2**30, where)


def main():
    vkquill = sys.argv[1]
    print("| model | LoRA r | tokens a pass | recompute | batch 1 | batch 2 | batch 4 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for model in MODELS:
        for r in (8, 16):
            for seq in (1024, 2048):
                for recompute in ("none", "layers"):
                    cells = [cell(plan(vkquill, model, r, seq, recompute, b)) for b in (1, 2, 4)]
                    print("| %s | %d | %d | %s | %s |" % (model, r, seq, recompute, " | ".join(cells)))


if __name__ == "__main__":
    main()
