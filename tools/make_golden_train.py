#!/usr/bin/python3
"""Write the golden of one whole training step from a JSONL file: the losses and every
parameter gradient of sft, mce, dce and nextquill, computed in PyTorch along a path that
shares nothing with vkquill's C code -- reading the JSONL, rendering the prompt template
(docs/data.md), tokenizing (llama2.c tok.bin BPE), fitting history to the prompt limit and
the model's context, pairing and packing the batch, the model and the loss.

    /usr/bin/python3 tools/make_golden_train.py [--out tests/golden]

Writes (CI only reads them; tests/test_train_golden.c runs `vkq_train_run` on them):
  train_tok.bin          a small tok.bin: <unk>, <s>, </s>, the 256 byte pieces, the single
                         characters of the text, and merges learned from it
  train_llama.bin        a tiny random Llama over that vocabulary (llama2.c format)
  train.jsonl            the samples (with a byte-order mark, a CRLF line and a blank line)
  train_template.json    the prompt template
  train_config.json      the run's options (paths left to the test)
  train_golden.bin       the expected values, VKQG format (tools/make_golden.py)
  README.md              its section on these files, replaced in place

Every value is computed in float64 from the stored float32 weights and rounded to float32.
Seeds are fixed: running the script again reproduces the files byte for byte.
"""

import argparse
import collections
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402
import make_golden  # noqa: E402  (the VKQG writer and the random tiny weights)
import make_golden_nextquill as nq  # noqa: E402  (the causal loss as the method spec says)

SEED = 20261127
F64 = torch.float64
N_MERGES = 48
METHODS = {  # name: (paired, weighting, alignment), the paper's ablation
    "sft": (False, "uniform", "none"),
    "mce": (True, "uniform", "ce"),
    "dce": (True, "threshold", "none"),
    "nextquill": (True, "threshold", "ce"),
}

TEMPLATE = {
    "system": "Quill {{notes}\n",
    "history_item": "[{time}] {input} => {output}\n",
    "no_history": "(none)\n",
    "prompt": "{history}Item: {input}\nSay:",
}

# Newest history first. Together they use every rule: no history (absent and null), a time
# missing from an item, more items than history_k, items dropped for the prompt limit and
# for the model's context, a target cut to max_target_tokens, a character with a piece of
# its own (é) and ones that fall back to bytes (ü, 🙂), and fields that are ignored.
SAMPLES = [
    {"user": "ann", "input": "green tea", "target": "lovely tea, cheers!",
     "history": [{"input": "black tea", "output": "lovely brew, cheers!", "time": "2024-03"},
                 {"input": "cake", "output": "lovely cake!", "time": "2024-01"}]},
    {"user": "bob", "input": "jam", "target": "jam is bad."},
    {"user": "bob", "input": "bun", "target": "bun is bad.", "history": None},
    {"user": "cy", "input": "café au lait", "target": "über good 🙂",
     "history": [{"input": "latte", "output": "über good"},
                 {"input": "mocha", "output": "good", "time": "2023-12"},
                 {"input": "tea", "output": "fine"},
                 {"input": "water", "output": "bad"}]},
    {"input": "scone", "target": "a scone is a scone",
     "history": [{"input": "tea", "output": "tea is tea", "time": "2024-05"},
                 {"input": "a very long list of cakes and buns and teas",
                  "output": "a long long answer about all the cakes and the buns"}],
     "rating": 5},
    {"user": "dee", "input": "bread",
     "target": "the bread is good and the butter is good and the jam is good too",
     "history": [{"input": "rolls", "output": "the rolls are good", "time": "2024-02"},
                 {"input": "toast", "output": "the toast is good and the jam is good, so is the tea"}]},
]
# Line layout of train.jsonl: a byte-order mark before the first line, a CRLF after the
# second, a blank line after the third.
HISTORY_K, MAX_PROMPT_TOKENS, MAX_TARGET_TOKENS = 3, 70, 14
CFG_SHAPE = dict(dim=32, hidden_dim=64, n_layers=2, n_heads=4, n_kv_heads=2, seq_len=78)
ALPHA, LAMBDA, EPS = nq.ALPHA, nq.LAMBDA, nq.EPS
DELTA_MARGIN = 1e-5  # no DCE within this of delta: float32 (errors near 1e-8) cannot flip it


# ----------------------------------------------------------------------------------------
# The data file, read the way docs/data.md describes it


def write_jsonl(path):
    lines = [json.dumps(s, ensure_ascii=False) for s in SAMPLES]
    text = "\ufeff" + lines[0] + "\n" + lines[1] + "\r\n" + lines[2] + "\n\n"
    text += "".join(line + "\n" for line in lines[3:])
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def read_jsonl(path):
    """[(line number, sample)]: a leading BOM, CRs before LFs and blank lines are ignored;
    user defaults to "", history to none, and null counts as absent."""
    text = open(path, "rb").read().decode("utf-8")
    text = text[1:] if text.startswith("\ufeff") else text
    samples = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(" \t"):
            continue
        obj = json.loads(line)
        history = obj.get("history") or []
        samples.append((number, {
            "input": obj["input"], "target": obj["target"],
            "history": [(h["input"], h["output"], h.get("time") or "") for h in history]}))
    return samples


# ----------------------------------------------------------------------------------------
# The template: system, then prompt with {history} and {input} filled in


def fill(fmt, values):
    """{name} becomes values[name]; {{ is a literal {; everything else is kept."""
    out, i = [], 0
    while i < len(fmt):
        if fmt.startswith("{{", i):
            out.append("{")
            i += 2
        elif fmt[i] == "{":
            close = fmt.index("}", i)
            out.append(values[fmt[i + 1:close]])
            i = close + 1
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def render(input_text, items):
    block = "".join(fill(TEMPLATE["history_item"], {"input": a, "output": b, "time": t})
                    for a, b, t in items) if items else fill(TEMPLATE["no_history"], {})
    return fill(TEMPLATE["system"], {}) + fill(TEMPLATE["prompt"],
                                               {"history": block, "input": input_text})


# ----------------------------------------------------------------------------------------
# The tokenizer file: pieces and scores, merges learned from the text


BYTE_FALLBACK = {"\n", "ü", "🙂"}  # characters without a piece of their own


def learn_merges(texts, n_merges):
    """Byte-pair merges over the texts (each with the dummy-prefix space), never with a
    character that falls back to bytes: a list of pieces, most frequent pair first."""
    seqs = [list(" " + t) for t in texts]
    merges = []
    for _ in range(n_merges):
        counts = collections.Counter()
        for seq in seqs:
            for a, b in zip(seq, seq[1:]):
                if not BYTE_FALLBACK & set(a + b):
                    counts[a + b] += 1
        if not counts:
            break
        piece = max(sorted(counts), key=lambda p: counts[p])  # ties: the smallest piece
        merges.append(piece)
        for seq in seqs:
            i = 0
            while i + 1 < len(seq):
                if seq[i] + seq[i + 1] == piece:
                    seq[i:i + 2] = [piece]
                i += 1
    return merges


def write_tokenizer(path, texts):
    """<unk>, <s>, </s> and <0x00>..<0xFF> (score 0), then every character of the texts but
    newline, ü and 🙂 (which must fall back to bytes), then the merges, scored by rank; the
    last two merges share a score, so the leftmost-on-ties rule is exercised."""
    chars = sorted({c for t in texts for c in " " + t} - BYTE_FALLBACK)
    merges = learn_merges(texts, N_MERGES)
    pieces = [(b"<unk>", 0.0), (b"<s>", 0.0), (b"</s>", 0.0)]
    pieces += [(f"<0x{b:02X}>".encode(), 0.0) for b in range(256)]
    pieces += [(c.encode(), -1000.0 - i) for i, c in enumerate(chars)]
    scores = [-float(rank) for rank in range(len(merges))]
    scores[-1] = scores[-2]
    pieces += [(m.encode(), s) for m, s in zip(merges, scores)]
    assert len({p for p, _ in pieces}) == len(pieces), "duplicate pieces"
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p, _ in pieces)))
        for piece, score in pieces:
            f.write(struct.pack("<fi", score, len(piece)) + piece)


# ----------------------------------------------------------------------------------------
# Pairs: the prompt with and without history, and the response


def encode_pair(tok, seq_len, line, sample):
    """(with, with_prompt, without, without_prompt, response) token lists. The response is
    the target cut to MAX_TARGET_TOKENS, then EOS. History keeps the HISTORY_K newest items
    and drops the oldest until BOS + prompt fits MAX_PROMPT_TOKENS and the whole sequence
    fits the context; the sample must fit without history."""
    response = tok.encode(sample["target"], bos=False)[:MAX_TARGET_TOKENS] + [ref.EOS_ID]
    without = tok.encode(render(sample["input"], []), bos=True)
    assert len(without) <= MAX_PROMPT_TOKENS, f"line {line}: the prompt does not fit"
    assert len(without) + len(response) <= seq_len, f"line {line}: no room in the context"
    budget = min(MAX_PROMPT_TOKENS, seq_len - len(response))
    with_history = without
    for n in range(min(len(sample["history"]), HISTORY_K), 0, -1):
        prompt = tok.encode(render(sample["input"], sample["history"][:n]), bos=True)
        if len(prompt) <= budget:
            with_history = prompt
            break
    return with_history, without, response


def pack(pairs, paired):
    """Tokens, offsets and rows of the batch: the with-history sequences, then (paired) the
    without-history ones in the same order; row r and row R + r predict the same token."""
    tokens, offsets, rows, targets = [], [0], [], []
    halves = [0, 1] if paired else [0]
    for half in halves:
        for pair in pairs:
            prompt, response = pair[half], pair[2]
            rows += range(len(tokens) + len(prompt) - 1, len(tokens) + len(prompt) - 1 +
                          len(response))
            tokens += prompt + response
            offsets.append(len(tokens))
            if half == 0:
                targets += response
    return tokens, offsets, rows, targets


# ----------------------------------------------------------------------------------------
# One step of each method


def step(cfg, weights, pairs, method, delta):
    """log values (loss, loss_n, loss_p, share_above_delta, grad_norm) and the gradient."""
    paired, weighting, align = METHODS[method]
    tokens, offsets, rows, targets = pack(pairs, paired)
    model = ref.Llama.from_weights(cfg, weights, F64)
    logits = model.forward_packed(torch.tensor(tokens), offsets, torch.tensor(rows))
    y = torch.tensor(targets)
    if paired:
        loss_n, loss_p, loss, stats = nq.causal_loss(logits, y, (weighting, align, False, False),
                                                     delta, None, None)
        share = (stats[:, 0] > delta).to(F64).mean()
    else:
        loss_n = torch.nn.functional.cross_entropy(logits, y)
        loss_p, loss, share = torch.zeros((), dtype=F64), loss_n, torch.zeros((), dtype=F64)
    loss.backward()
    grads = model.flat_grads()
    log = [loss.item(), loss_n.item(), loss_p.item(), share.item(), grads.norm().item()]
    return log, grads


def check_gradient_by_finite_differences(cfg, weights, pairs, delta, grads):
    """Central differences of the nextquill loss on a few parameters agree with autograd."""
    gen = torch.Generator().manual_seed(7)
    flat = np.concatenate([weights[n].reshape(-1) for n, _ in cfg.param_shapes()])
    for i in torch.randint(0, len(flat), (6,), generator=gen).tolist():
        values = []
        for h in (1e-6, -1e-6):
            moved = {}
            at = 0
            for name, shape in cfg.param_shapes():
                n = math.prod(shape)
                w = weights[name].astype(np.float64).reshape(-1).copy()
                if at <= i < at + n:
                    w[i - at] += h
                moved[name] = w.reshape(shape)
                at += n
            paired, weighting, align = METHODS["nextquill"]
            tokens, offsets, rows, targets = pack(pairs, paired)
            model = ref.Llama.from_weights(cfg, moved, F64)
            with torch.no_grad():
                logits = model.forward_packed(torch.tensor(tokens), offsets, torch.tensor(rows))
                values.append(nq.causal_loss(logits, torch.tensor(targets),
                                             (weighting, align, False, False), delta, None,
                                             None)[2].item())
        fd = (values[0] - values[1]) / 2e-6
        assert abs(fd - grads[i].item()) <= 1e-6 + 1e-5 * abs(fd), f"param {i}: {fd} vs {grads[i]}"


def choose_delta(cfg, weights, pairs):
    """The middle of the widest gap between sorted dynamic DCEs of the batch that leaves at
    least a fifth of the rows on each side, as a float32 value. (The samples without history
    have DCE exactly 0, so the median itself will not do.)"""
    tokens, offsets, rows, targets = pack(pairs, True)
    with torch.no_grad():
        logits = ref.Llama.from_weights(cfg, weights, F64).forward_packed(
            torch.tensor(tokens), offsets, torch.tensor(rows))
    dce = sorted(nq.dce_of(logits, torch.tensor(targets)).tolist())
    low = len(dce) // 5
    gap, k = max((dce[k] - dce[k - 1], k) for k in range(low, len(dce) - low + 1))
    delta = float(np.float32(0.5 * (dce[k - 1] + dce[k])))
    assert gap > 2 * DELTA_MARGIN, f"no gap of {2 * DELTA_MARGIN} between the DCEs"
    return delta


# ----------------------------------------------------------------------------------------

README_HEADING = "## Training step golden values (written by tools/make_golden_train.py)"
README = README_HEADING + """

Made with `/usr/bin/python3 tools/make_golden_train.py` (PyTorch {torch_version}; float64 from the stored float32 weights, stored as float32). One whole training step from a JSONL file, along a path of its own: the JSONL reader, the template, the tok.bin BPE encoder (tools/llama_reference.py), the history rules, the paired batch, the model and the loss (tools/make_golden_nextquill.py) are all Python.

- `train_tok.bin`: {V} pieces: `<unk>`, `<s>`, `</s>`, `<0x00>`..`<0xFF>`, every character of the prompts and targets except newline, ü and 🙂 (they fall back to bytes), then {M} merges learned from the same text (the last two share a score).
- `train_llama.bin`: a random llama2.c model (seed {seed}): dim {dim}, hidden_dim {hidden_dim}, n_layers {n_layers}, n_heads {n_heads}, n_kv_heads {n_kv_heads}, vocab_size {V}, seq_len {seq_len}, shared classifier.
- `train.jsonl` ({N} samples; a byte-order mark, a CRLF line and a blank line), `train_template.json`, and `train_config.json`: steps 1, batch {N} (every sample, in the order the seed draws them), history_k {k}, max_prompt_tokens {mp}, max_target_tokens {mt}, alpha {alpha}, lambda {lam}, eps {eps}, delta {delta:.9g} (in the widest gap between the batch's dynamic DCEs that leaves a fifth of them on each side).
- `train_golden.bin` (VKQG), records in this order:
  - `pairs` i32 [{N}, 5]: per sample n_with, with_prompt, n_without, without_prompt, n_response; `with` i32 [{W}] and `without` i32 [{WO}]: the sequences (BOS + prompt + target + EOS) back to back. History items used: {used}.
  - per method NAME (sft, mce, dce, nextquill): `NAME/log` f32 [5] = loss, loss_n, loss_p, share_above_delta, grad_norm as log.jsonl has them (sft has no pairs: loss_p and the share are 0) and `NAME/grads` f32 [{P}] = d loss / d parameters (llama2.c order).

| method | loss | loss_n | loss_p | share above delta | grad norm |
|---|---|---|---|---|---|
{table}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "golden"))
    args = parser.parse_args()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    path = lambda name: os.path.join(args.out, name)

    write_jsonl(path("train.jsonl"))
    with open(path("train_template.json"), "w") as f:
        json.dump(TEMPLATE, f, indent=2)
        f.write("\n")
    samples = read_jsonl(path("train.jsonl"))
    assert [s["target"] for _, s in samples] == [s["target"] for s in SAMPLES]
    texts = [render(s["input"], s["history"]) for _, s in samples]
    texts += [render(s["input"], []) for _, s in samples] + [s["target"] for _, s in samples]
    write_tokenizer(path("train_tok.bin"), texts)
    tok = ref.Tokenizer(path("train_tok.bin"))

    cfg = ref.Config(vocab_size=tok.vocab_size, shared_classifier=True, **CFG_SHAPE)
    ref.write_checkpoint(path("train_llama.bin"), cfg, make_golden.make_tiny_weights(gen, cfg))
    cfg, weights = ref.read_checkpoint(path("train_llama.bin"))  # exactly what C will load

    pairs = [encode_pair(tok, cfg.seq_len, line, s) for line, s in samples]
    used = []
    for (line, s), (w, wo, _) in zip(samples, pairs):
        n = next(n for n in range(len(s["history"]) + 1)
                 if tok.encode(render(s["input"], s["history"][:n]), bos=True) == w)
        used.append(n)
    assert used == [2, 0, 0, 3, 1, 1], used  # the rules above each drop what they should
    delta = choose_delta(cfg, weights, pairs)

    config = {"steps": 1, "batch": len(pairs), "history_k": HISTORY_K,
              "max_prompt_tokens": MAX_PROMPT_TOKENS, "max_target_tokens": MAX_TARGET_TOKENS,
              "alpha": ALPHA, "lambda": LAMBDA, "eps": EPS, "delta": delta}
    with open(path("train_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    i32 = lambda v: np.array(v, dtype=np.int32)
    f32 = lambda t: np.asarray(t.detach().numpy() if torch.is_tensor(t) else t, np.float32)
    shapes = [(len(w) + len(r), len(w), len(wo) + len(r), len(wo), len(r)) for w, wo, r in pairs]
    records = [("pairs", i32(shapes)),
               ("with", i32([t for w, _, r in pairs for t in w + r])),
               ("without", i32([t for _, wo, r in pairs for t in wo + r]))]
    table = []
    for method in METHODS:
        log, grads = step(cfg, weights, pairs, method, delta)
        if method == "nextquill":
            check_gradient_by_finite_differences(cfg, weights, pairs, delta, grads)
        records += [(f"{method}/log", f32(log)), (f"{method}/grads", f32(grads))]
        table.append(f"| {method} | " + " | ".join(f"{x:.6f}" for x in log) + " |")
    golden_path = path("train_golden.bin")
    make_golden.write_golden(golden_path, records)
    back = make_golden.read_golden(golden_path)
    for name, array in records:
        assert np.array_equal(back[name], array), name

    make_golden.write_readme(path("README.md"), README.format(
        torch_version=torch.__version__, V=tok.vocab_size, M=N_MERGES, seed=SEED,
        N=len(pairs), k=HISTORY_K, mp=MAX_PROMPT_TOKENS, mt=MAX_TARGET_TOKENS, alpha=ALPHA,
        lam=LAMBDA, eps=EPS, delta=delta, W=len(records[1][1]), WO=len(records[2][1]),
        used=", ".join(map(str, used)), P=cfg.n_params(), table="\n".join(table),
        **CFG_SHAPE))
    print(f"wrote {golden_path} ({os.path.getsize(golden_path)} bytes), vocab {tok.vocab_size}")
    for (line, s), shape, n in zip(samples, shapes, used):
        print(f"line {line}: with {shape[0]} (prompt {shape[1]}, {n} items), "
              f"without {shape[2]} (prompt {shape[3]}), response {shape[4]}")
    print(f"delta {delta:.9g}")
    for row in table:
        print(row)


if __name__ == "__main__":
    main()
