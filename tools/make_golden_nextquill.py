#!/usr/bin/python3
"""Write golden values for the NextQuill causal-effect loss (include/vkquill/causal_loss.h,
docs/method.md) on the tiny model of tools/make_golden.py: the losses and every
parameter gradient of each method variant, from PyTorch.

    /usr/bin/python3 tools/make_golden_nextquill.py [--out tests/golden]

Reads  tiny_llama.bin          the model being trained (committed by tools/make_golden.py)
Writes tiny_llama_ref.bin      a second random model of the same shape: the frozen reference
                               model that gives the kl target and the fixed DCE
       nextquill_golden.bin    the batch and the expected values, VKQG format (make_golden.py)
       README.md               its section on these files, replaced in place

Every value is computed in float64 from the stored float32 weights and rounded to float32.
Seeds are fixed: running the script again reproduces the files byte for byte.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402
import make_golden  # noqa: E402  (the VKQG writer and the random tiny weights)

SEED = 20261126
F64 = torch.float64
BOS, NONE_TOKEN = ref.BOS_ID, 3  # NONE_TOKEN stands in for the placeholder line "None"
# (history, query, response) lengths of the three samples. The with-history prompt is
# BOS + history + query, the without-history prompt BOS + NONE_TOKEN + query: 9/4, 6/3, 11/5.
SAMPLES = ((6, 2, 4), (4, 1, 6), (7, 3, 3))
ALPHA, LAMBDA, EPS = 0.1, 0.9, 0.1
DELTA_MARGIN = 1e-4  # no DCE may lie closer to delta than this: float32 must not flip a weight

# name: (weighting, alignment, L_p weighted by w^, fixed DCE from the reference model)
VARIANTS = {
    "sft": ("uniform", "none", False, False),
    "mce": ("uniform", "ce", False, False),
    "dce": ("threshold", "none", False, False),
    "nextquill": ("threshold", "ce", False, False),
    "js": ("js", "ce", False, False),
    "kl": ("threshold", "kl", False, False),
    "weighted": ("threshold", "ce", True, False),
    "fixed": ("threshold", "ce", False, True),
}


# ----------------------------------------------------------------------------------------
# The batch


def make_batch(gen, vocab):
    """Six packed sequences: the three samples with history, then the same three without.
    rows are the positions whose next token is a response token, in that order, so row r
    and row R + r predict the same response token; targets [R] are those tokens."""
    draw = lambda n: torch.randint(NONE_TOKEN + 1, vocab, (n,), generator=gen).tolist()
    with_history, without_history, responses = [], [], []
    for history, query, response in SAMPLES:
        h, x, y = draw(history), draw(query), draw(response)
        with_history.append(([BOS] + h + x, y))
        without_history.append(([BOS, NONE_TOKEN] + x, y))
        responses += y
    tokens, offsets, rows = [], [0], []
    for prompt, response in with_history + without_history:
        start = len(tokens)
        tokens += prompt + response
        offsets.append(len(tokens))
        rows += range(start + len(prompt) - 1, start + len(prompt) - 1 + len(response))
    i32 = lambda v: np.array(v, dtype=np.int32)
    return i32(tokens), i32(offsets), i32(rows), i32(responses)


def packed_logits(model, batch):
    tokens, offsets, rows, _ = batch
    return model.forward_packed(torch.from_numpy(tokens).long(), offsets,
                                torch.from_numpy(rows).long())


# ----------------------------------------------------------------------------------------
# The loss, as docs/method.md writes it


def dce_of(logits, targets):
    """p^h_t[y_t] - p^0_t[y_t] for logits [2R, V]."""
    R = len(targets)
    p = torch.softmax(logits, dim=-1)
    y = targets[:, None]
    return (p[:R].gather(1, y) - p[R:].gather(1, y))[:, 0]


def js_weights(zh, z0):
    """sum_v p log(p/m) + q log(q/m), m = (p + q) / 2, in logs (no 0 * log 0)."""
    lp, lq = torch.log_softmax(zh, -1), torch.log_softmax(z0, -1)
    lm = torch.logaddexp(lp, lq) - math.log(2.0)
    return (lp.exp() * (lp - lm) + lq.exp() * (lq - lm)).sum(-1)


def causal_loss(logits, targets, variant, delta, fixed_dce, ref_logits):
    """(L_n, L_p, L, stats) for logits [2R, V]; DCE and the weights carry no gradient.
    stats [R, 4] holds per token DCE, w^, w^ * -log p^h[y] and c * term (0 without L_p)."""
    weighting, align, weighted, fixed = variant
    R = len(targets)
    zh, z0, y = logits[:R], logits[R:], targets[:, None]
    with torch.no_grad():
        dce = fixed_dce if fixed else dce_of(logits, targets)
        if weighting == "uniform":
            w = torch.ones(R, dtype=F64)
        elif weighting == "threshold":
            w = torch.where(dce > delta, LAMBDA, EPS).to(F64)
        else:
            w = js_weights(zh, z0)
        w_hat = w / w.sum()
    token_n = w_hat * -torch.log_softmax(zh, -1).gather(1, y)[:, 0]
    log_s = torch.log_softmax(zh - z0, -1)
    if align == "none":
        token_p = torch.zeros(R, dtype=F64)
    else:
        if align == "ce":
            term = -log_s.gather(1, y)[:, 0]
        else:
            log_q = torch.log_softmax(ref_logits[:R] - ref_logits[R:], -1)
            term = (log_q.exp() * (log_q - log_s)).sum(-1)
        c = w_hat if weighted else torch.full((R,), 1.0 / R, dtype=F64)
        token_p = c * term
    loss_n, loss_p = token_n.sum(), token_p.sum()
    stats = torch.stack([dce, w_hat, token_n.detach(), token_p.detach()], 1)
    return loss_n, loss_p, loss_n + ALPHA * loss_p, stats


def delta_between(dce):
    """Halfway between the two middle DCEs: both sides of the threshold occur."""
    s = sorted(dce.tolist())
    k = len(s) // 2
    delta = 0.5 * (s[k - 1] + s[k])
    assert min(abs(d - delta) for d in s) > DELTA_MARGIN, f"DCE too close to delta {delta}"
    return delta


# ----------------------------------------------------------------------------------------
# Self-checks (cheap; they guard the golden values)


def check_logit_gradient(logits, targets, variant, delta, fixed_dce, ref_logits):
    """Autograd of the loss through the logits equals the spec's closed form:
    dL/dz^h = w^ (p^h - onehot) + alpha c (s - q), dL/dz^0 = -alpha c (s - q)."""
    weighting, align, weighted, fixed = variant
    z = logits.detach().clone().requires_grad_()
    causal_loss(z, targets, variant, delta, fixed_dce, ref_logits)[2].backward()
    R = len(targets)
    zh, z0 = logits[:R].detach(), logits[R:].detach()
    dce = fixed_dce if fixed else dce_of(logits.detach(), targets)
    w = {"uniform": torch.ones(R, dtype=F64),
         "threshold": torch.where(dce > delta, LAMBDA, EPS).to(F64),
         "js": js_weights(zh, z0)}[weighting]
    w_hat = (w / w.sum())[:, None]
    onehot = torch.nn.functional.one_hot(targets, zh.shape[1]).to(F64)
    c = w_hat if weighted else torch.full((R, 1), 1.0 / R, dtype=F64)
    s = torch.softmax(zh - z0, -1)
    q = torch.softmax(ref_logits[:R] - ref_logits[R:], -1) if align == "kl" else onehot
    s_minus_q = torch.zeros_like(s) if align == "none" else s - q
    want = torch.cat([w_hat * (torch.softmax(zh, -1) - onehot) + ALPHA * c * s_minus_q,
                      -ALPHA * c * s_minus_q])
    err = (z.grad - want).abs().max().item()
    assert err < 1e-13, f"{variant}: autograd and the closed form differ by {err}"


def check_rows_match(batch, vocab):
    """Row r and row R + r predict the same response token."""
    tokens, offsets, rows, targets = batch
    R = len(targets)
    assert len(rows) == 2 * R
    assert np.array_equal(tokens[rows[:R] + 1], targets)
    assert np.array_equal(tokens[rows[R:] + 1], targets)
    assert targets.min() >= 0 and targets.max() < vocab


# ----------------------------------------------------------------------------------------

README_HEADING = "## NextQuill loss golden values (written by tools/make_golden_nextquill.py)"
README = README_HEADING + """

Made with `/usr/bin/python3 tools/make_golden_nextquill.py` (PyTorch {torch_version}; float64 from the stored float32 weights, stored as float32). The loss is include/vkquill/causal_loss.h (the method: docs/method.md), with DCE and weights held constant (no gradient through them).

- `tiny_llama_ref.bin`: a second random model of the same shape as `tiny_llama.bin` (seed {seed}), the frozen reference model: the kl target q = softmax(zD^h - zD^0) and the fixed DCE come from its logits on the same rows.
- `nextquill_golden.bin` (VKQG, as above), records in this order:
  - `tokens` i32 [{T}], `offsets` i32 [{S1}]: {offsets}; six packed sequences: three samples with history (BOS + history + query + response), then the same three without (BOS + token {none} standing in for "None" + query + response); prompts {prompts} tokens, responses {responses}.
  - `rows` i32 [{R2}]: the positions whose next token is a response token, with-history samples first, so row r and row {R} + r predict the same token; `targets` i32 [{R}].
  - `hyper` f32 [5]: alpha {alpha}, lambda {lam}, eps {eps}, delta {delta:.6f} (between the two middle dynamic DCEs, for every threshold variant but `fixed`), delta_fixed {delta_fixed:.6f} (the same for the reference model's DCE, used by `fixed`).
  - `logits` f32 [{R2}, {V}] of `tiny_llama.bin`; `ref_logits` f32 [{R2}, {V}] of `tiny_llama_ref.bin`; `dce` f32 [{R}] (dynamic) and `dce_fixed` f32 [{R}] (from the reference model).
  - per variant NAME: `NAME/losses` f32 [3] = L_n, L_p, L; `NAME/grads` f32 [{P}] = dL / d parameters of `tiny_llama.bin` (llama2.c order, as `grads` above); `NAME/stats` f32 [{R}, 4] = per token the DCE it used (dynamic, or fixed for `fixed`), w^, w^ * -log p^h[y] and c * term (0 without L_p); `NAME/share` f32 [1] = the share of tokens whose DCE exceeds the variant's delta. Variants (weighting + alignment): {variant_list}.

| variant | L_n | L_p | L |
|---|---|---|---|
{loss_table}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "golden"))
    args = parser.parse_args()
    torch.manual_seed(SEED)  # nothing should draw from the global generator; just in case
    gen = torch.Generator().manual_seed(SEED)

    cfg, weights = ref.read_checkpoint(os.path.join(args.out, "tiny_llama.bin"))
    assert cfg == make_golden.CFG
    ref_path = os.path.join(args.out, "tiny_llama_ref.bin")
    ref.write_checkpoint(ref_path, cfg, make_golden.make_tiny_weights(gen))
    ref_cfg, ref_weights = ref.read_checkpoint(ref_path)  # exactly what C will load
    assert ref_cfg == cfg

    batch = make_batch(gen, cfg.vocab_size)
    check_rows_match(batch, cfg.vocab_size)
    tokens, offsets, rows, targets_np = batch
    targets = torch.from_numpy(targets_np).long()

    with torch.no_grad():
        logits = packed_logits(ref.Llama.from_weights(cfg, weights, F64), batch)
        ref_logits = packed_logits(ref.Llama.from_weights(cfg, ref_weights, F64), batch)
    dce, fixed_dce = dce_of(logits, targets), dce_of(ref_logits, targets)
    delta, delta_fixed = delta_between(dce), delta_between(fixed_dce)

    records = [("tokens", tokens), ("offsets", offsets), ("rows", rows),
               ("targets", targets_np)]
    f32 = lambda t: np.asarray(t.detach().numpy() if torch.is_tensor(t) else t, np.float32)
    records += [("hyper", f32([ALPHA, LAMBDA, EPS, delta, delta_fixed])),
                ("logits", f32(logits)), ("ref_logits", f32(ref_logits)),
                ("dce", f32(dce)), ("dce_fixed", f32(fixed_dce))]
    table = []
    for name, variant in VARIANTS.items():
        d = delta_fixed if variant[3] else delta
        check_logit_gradient(logits, targets, variant, d, fixed_dce, ref_logits)
        model = ref.Llama.from_weights(cfg, weights, F64)
        losses = causal_loss(packed_logits(model, batch), targets, variant, d, fixed_dce,
                             ref_logits)
        losses[2].backward()
        values = [x.item() for x in losses[:3]]
        stats = losses[3]
        share = (stats[:, 0] > d).to(F64).mean().item()
        records += [(f"{name}/losses", f32(values)), (f"{name}/grads", f32(model.flat_grads())),
                    (f"{name}/stats", f32(stats)), (f"{name}/share", f32([share]))]
        table.append(f"| {name} | " + " | ".join(f"{x:.6f}" for x in values) + " |")

    golden_path = os.path.join(args.out, "nextquill_golden.bin")
    make_golden.write_golden(golden_path, records)
    back = make_golden.read_golden(golden_path)
    assert list(back) == [name for name, _ in records]
    for name, array in records:
        assert np.array_equal(back[name], array), name

    R = len(targets_np)
    prompts = ", ".join(f"{1 + h + x}/{2 + x}" for h, x, _ in SAMPLES)
    make_golden.write_readme(os.path.join(args.out, "README.md"), README.format(
        torch_version=torch.__version__, seed=SEED, T=len(tokens), S1=len(offsets),
        offsets=offsets.tolist(), none=NONE_TOKEN, prompts=prompts,
        responses=", ".join(str(y) for _, _, y in SAMPLES), R=R, R2=2 * R, V=cfg.vocab_size,
        alpha=ALPHA, lam=LAMBDA, eps=EPS, delta=delta, delta_fixed=delta_fixed,
        P=cfg.n_params(),
        variant_list="; ".join(f"{n} ({v[0]} + {v[1]}{', weighted' if v[2] else ''}"
                               f"{', fixed DCE' if v[3] else ''})" for n, v in VARIANTS.items()),
        loss_table="\n".join(table)))

    print(f"wrote {ref_path} and {golden_path} ({os.path.getsize(golden_path)} bytes)")
    print(f"tokens {tokens.tolist()}\noffsets {offsets.tolist()}\nrows {rows.tolist()}")
    print(f"targets {targets_np.tolist()}\ndce {np.round(dce.numpy(), 4).tolist()}")
    print(f"dce_fixed {np.round(fixed_dce.numpy(), 4).tolist()}")
    print(f"delta {delta:.6f} delta_fixed {delta_fixed:.6f}")
    print("variant     L_n        L_p        L")
    for row in table:
        print(row)


if __name__ == "__main__":
    main()
