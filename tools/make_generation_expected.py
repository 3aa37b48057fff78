#!/usr/bin/python3
"""Expected greedy generations of the stories260K model, for vkquill's generation tests.

    /usr/bin/python3 tools/make_generation_expected.py \\
        ../shared/models/stories260K.bin ../shared/models/tok512.bin \\
        [--out tests/data/stories260K_generation.json]

The model is read from the given path and never copied into the repository; only the
expected token sequences and texts are written (and committed). Generation follows
llama2.c run.c's generate() at temperature 0:

    tokens = encode(prompt, bos=1, eos=0); token = tokens[0]; pos = 0
    while pos < steps:
        logits = forward(token, pos)
        next = tokens[pos + 1] while still inside the prompt, else argmax(logits)
        pos += 1
        if next == BOS: stop            # run.c's "data-dependent terminating condition"
        text += decode(token, next); token = next

So "tokens" (BOS first, the terminating BOS not included) has steps + 1 entries when the
run went the full length, and at most steps entries when it stopped at a BOS. "text" is the
plain concatenation of decode() pieces, decoded as UTF-8. (run.c prints each piece through
safe_printf, which additionally drops single-byte pieces that are neither printable nor
whitespace, e.g. the raw bytes of a non-ASCII character; "text" keeps them.)

Every case runs twice, in float32 (as run.c computes) and in float64. A case is kept only
when both paths pick the same tokens and the smallest top-1 minus top-2 logit margin over
the argmax steps (of either path) exceeds MIN_MARGIN, so an implementation with different
but reasonable float32 rounding must reproduce it exactly.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402

MIN_MARGIN = 1e-3

CASES = [
    ("Once upon a time", 60),
    ("The little dog", 40),
    ("Lily", 100),
    ("One day, Tom went", 50),
    ("", 30),
    ("Zoë saw a big tree", 45),
    ("Tom and Sam were friends. They liked to play", 24),
]


def first_argmax_and_margin(logits):
    """run.c's argmax (the first index of the largest value) and top-1 minus top-2."""
    values = logits.tolist()
    best = values.index(max(values))  # first occurrence, independent of torch's tie rule
    top2 = torch.topk(logits, 2).values
    return best, float(top2[0] - top2[1])


@torch.no_grad()
def greedy(model, tokenizer, prompt, steps):
    """Returns (prompt_tokens, tokens, text bytes, smallest margin over argmax steps)."""
    prompt_tokens = tokenizer.encode(prompt, bos=True, eos=False)
    tokens, text, margins = [prompt_tokens[0]], b"", []
    token, pos = prompt_tokens[0], 0
    while pos < steps:
        if pos < len(prompt_tokens) - 1:
            nxt = prompt_tokens[pos + 1]  # forced: run.c's forward here only fills its cache
        else:
            # The logits at position pos. Recomputing the whole prefix is the same causal
            # computation as run.c's KV-cached forward(token, pos), just slower.
            logits = model.forward_batched(torch.tensor([tokens]))[0, -1]
            nxt, margin = first_argmax_and_margin(logits)
            margins.append(margin)
        pos += 1
        if nxt == ref.BOS_ID:
            break
        text += tokenizer.decode(token, nxt)
        tokens.append(nxt)
        token = nxt
    return prompt_tokens, tokens, text, min(margins) if margins else float("inf")


def dump_case(case):
    """One JSON object per case, lists kept on one line."""
    lines = [f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in case.items()]
    return "  {\n" + ",\n".join(lines) + "\n  }"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("model", help="stories260K.bin (llama2.c checkpoint)")
    parser.add_argument("tokenizer", help="tok512.bin (llama2.c tokenizer)")
    parser.add_argument("--out", default=os.path.join(root, "tests", "data",
                                                      "stories260K_generation.json"))
    args = parser.parse_args()

    cfg, weights = ref.read_checkpoint(args.model)
    tokenizer = ref.Tokenizer(args.tokenizer, cfg.vocab_size)
    models = {dtype: ref.Llama.from_weights(cfg, weights, dtype)
              for dtype in (torch.float32, torch.float64)}

    kept = []
    for prompt, steps in CASES:
        assert 0 < steps <= cfg.seq_len
        runs = {dtype: greedy(m, tokenizer, prompt, steps) for dtype, m in models.items()}
        (ptok, tok32, text32, m32), (_, tok64, text64, m64) = runs.values()
        margin = min(m32, m64)
        label = f"{prompt!r} steps {steps}"
        if tok32 != tok64:
            print(f"dropped {label}: float32 and float64 paths differ")
            continue
        if margin <= MIN_MARGIN:
            print(f"dropped {label}: smallest margin {margin:.2e} <= {MIN_MARGIN}")
            continue
        try:
            text = text32.decode("utf-8")
        except UnicodeDecodeError:
            print(f"dropped {label}: the generated bytes are not valid UTF-8")
            continue
        ending = "a BOS" if len(tok32) <= steps else "steps"
        print(f"kept {label}: {len(tok32)} tokens, stopped by {ending}, "
              f"min margin {margin:.4f}\n    {text!r}")
        kept.append({"prompt": prompt, "steps": steps, "prompt_tokens": ptok,
                     "tokens": tok32, "text": text, "min_margin": round(margin, 6)})

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(dump_case(c) for c in kept) + "\n]\n")
    print(f"wrote {len(kept)} of {len(CASES)} cases to {args.out} (kept: float32 and float64 "
          f"paths agree and every argmax margin > {MIN_MARGIN})")


if __name__ == "__main__":
    main()
