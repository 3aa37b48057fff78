#!/usr/bin/python3
"""Write the LoRA golden file: a tiny frozen Llama with low-rank adapters on every linear
target, written from PEFT's formula y = x W^T + (alpha / r) * lora_B(lora_A(x)) (dropout 0),
with its base in float32 and again with the base's matrices rounded to bfloat16 and float16.

    /usr/bin/python3 tools/make_golden_lora.py [--out tests/golden]

Reads tests/golden/tiny_llama.bin (make_golden.py) and reuses make_golden_nextquill.py's
paired batch and loss; writes lora_golden.bin (VKQG records, see make_golden.py) and a README
section. Everything is float64 from the stored float32 values; seeds are fixed.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402
import make_golden  # noqa: E402
import make_golden_nextquill as nq  # noqa: E402

SEED = 20261129
F64 = torch.float64
R, ALPHA = 4, 8.0
# PEFT's target names, the reference model's matrix names, in the adapter block's order.
TARGETS = (("q", "wq"), ("k", "wk"), ("v", "wv"), ("o", "wo"), ("gate", "w1"), ("up", "w3"),
           ("down", "w2"))
ADAMW_STEPS = 10
LR, BETAS, ADAM_EPS, WEIGHT_DECAY, CLIP_NORM = 1e-2, (0.9, 0.95), 1e-8, 0.1, 1.0


class Adapted:
    """One layer's weight as the reference model uses it (x @ W.T), with its adapter:
    x @ W.T + scale * (x @ A.T) @ B.T."""

    def __init__(self, w, a, b, scale):
        self.w, self.a, self.b, self.scale = w, a, b, scale

    @property
    def T(self):
        return self

    def __rmatmul__(self, x):
        return x @ self.w.T + self.scale * ((x @ self.a.T) @ self.b.T)


class Stack:
    """layer -> Adapted, standing in for a stacked weight [L][out][in]."""

    def __init__(self, w, a, b, scale):
        self.w, self.a, self.b, self.scale = w, a, b, scale

    def __getitem__(self, layer):
        return Adapted(self.w[layer], self.a[layer], self.b[layer], self.scale)


def lora_model(cfg, weights, adapters):
    """The reference Llama with its base frozen and the adapters {target: (A, B)} as the only
    leaves that take gradients."""
    model = ref.Llama.from_weights(cfg, weights, F64)
    for p in model.parameters():
        p.requires_grad_(False)
    leaves = {}
    for target, matrix in TARGETS:
        a, b = (torch.tensor(x, dtype=F64, requires_grad=True) for x in adapters[target])
        leaves[target] = (a, b)
        object.__setattr__(model, matrix, Stack(getattr(model, matrix), a, b, ALPHA / R))
    return model, leaves


def make_adapters(gen, cfg, b_std):
    """A as PEFT initialises it, uniform(-1/sqrt(in), 1/sqrt(in)); B normal(0, b_std) (PEFT
    starts B at 0, which would leave A without gradient)."""
    out = {}
    shapes = dict(cfg.param_shapes())
    for target, matrix in TARGETS:
        layers, rows, cols = shapes[matrix]
        bound = 1.0 / np.sqrt(cols)
        a = (2.0 * torch.rand((layers, R, cols), generator=gen, dtype=F64) - 1.0) * bound
        b = b_std * torch.randn((layers, rows, R), generator=gen, dtype=F64)
        out[target] = (a.numpy().astype(np.float32), b.numpy().astype(np.float32))
    return out


def grads_of(leaves):
    return {t: (a.grad.numpy().astype(np.float32), b.grad.numpy().astype(np.float32))
            for t, (a, b) in leaves.items()}


def adapter_records(prefix, adapters):
    return [(f"{prefix}{ab}/{t}", pair[i]) for t, pair in adapters.items()
            for i, ab in enumerate("AB")]


# The matrices a 16-bit base keeps in 16 bits; the norms stay float32.
MATRICES = ("tok_emb", "wq", "wk", "wv", "wo", "w1", "w2", "w3", "wcls")
HALF_TYPES = (("bf16", torch.bfloat16), ("f16", torch.float16))


def rounded_base(weights, dtype):
    """The base as a 16-bit copy holds it: every matrix rounded (to nearest even, torch's
    float32 conversion) to dtype, then widened exactly."""
    return {name: torch.from_numpy(w).to(dtype).to(torch.float32).numpy()
            if name in MATRICES else w for name, w in weights.items()}


def sft_part(cfg, weights, adapters, batch, prefix=""):
    model, leaves = lora_model(cfg, weights, adapters)
    loss, logits = make_golden.weighted_loss(model, batch)
    loss.backward()
    names = ("tokens", "offsets", "rows", "targets", "weights")
    records = [] if prefix else [(f"sft/{n}", x) for n, x in zip(names, batch)]
    records += [(f"{prefix}sft/logits", logits.detach().numpy().astype(np.float32)),
                (f"{prefix}sft/loss", np.array([loss.item()], np.float32))]
    return records + adapter_records(f"{prefix}sft/d", grads_of(leaves))


def nextquill_part(cfg, weights, adapters, batch, prefix=""):
    targets = torch.from_numpy(batch[3]).long()
    with torch.no_grad():
        dce = nq.dce_of(nq.packed_logits(lora_model(cfg, weights, adapters)[0], batch), targets)
    delta = nq.delta_between(dce)
    model, leaves = lora_model(cfg, weights, adapters)
    loss_n, loss_p, loss, _ = nq.causal_loss(nq.packed_logits(model, batch), targets,
                                             nq.VARIANTS["nextquill"], delta, None, None)
    loss.backward()
    names = ("tokens", "offsets", "rows", "targets")
    records = [] if prefix else [(f"nextquill/{n}", x) for n, x in zip(names, batch)]
    records += [(f"{prefix}nextquill/hyper",
                 np.array([nq.ALPHA, nq.LAMBDA, nq.EPS, delta], np.float32)),
                (f"{prefix}nextquill/losses",
                 np.array([loss_n.item(), loss_p.item(), loss.item()], np.float32))]
    return records + adapter_records(f"{prefix}nextquill/d", grads_of(leaves))


def adamw_part(cfg, weights, adapters, batch, prefix=""):
    """Ten AdamW steps on the adapters alone, from PEFT's start (B = 0), on the sft batch."""
    start = {t: (a, np.zeros_like(b)) for t, (a, b) in adapters.items()}
    model, leaves = lora_model(cfg, weights, start)
    params = [x for pair in leaves.values() for x in pair]
    opt = torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        loss, _ = make_golden.weighted_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
        opt.step()
        losses.append(loss.item())
    after = {t: (a.detach().numpy().astype(np.float32), b.detach().numpy().astype(np.float32))
             for t, (a, b) in leaves.items()}
    return ([(f"{prefix}adamw/losses", np.array(losses, np.float32))] +
            adapter_records(f"{prefix}adamw/", after))


README_HEADING = "## LoRA golden values (written by tools/make_golden_lora.py)"
README = README_HEADING + """

`lora_golden.bin` (PyTorch {torch_version}, seed {seed}, float64 from the float32 inputs) holds
a frozen `tiny_llama.bin` with adapters of rank {r}, alpha {alpha} (scale {scale}) on all seven
linear targets (q, k, v, o, gate, up, down), computed as PEFT does,
`x W^T + scale * (x A^T) B^T`, dropout 0:

- `A/<t>` f32 [L][r][in] (uniform(-1/sqrt(in), 1/sqrt(in)), PEFT's kaiming_uniform_(a=sqrt(5)))
  and `B/<t>` f32 [L][out][r] (normal(0, 0.1), so that A has a gradient).
- `sft/...`: make_golden.py's weighted cross-entropy batch (`tokens`, `offsets`, `rows`,
  `targets`, `weights`), its `logits`, `loss` and the adapter gradients `dA/<t>`, `dB/<t>`.
- `nextquill/...`: make_golden_nextquill.py's paired batch, `hyper` (alpha, lambda, eps,
  delta), `losses` (L_n, L_p, L) of the nextquill loss and `dA/<t>`, `dB/<t>`.
- `adamw/...`: {steps} AdamW steps (lr {lr}, betas {betas}, eps {eps}, weight decay {wd},
  clipping at {clip}) on the adapters alone from A and B = 0 on the sft batch: `losses` before
  each step, then `A/<t>`, `B/<t>` after them.
- `bf16/...` and `f16/...`: the same sft, nextquill and AdamW records (batches, adapters and
  hyperparameters shared) for the base with its matrices (tok_emb, wq, wk, wv, wo, w1, w2, w3
  and wcls when not shared) rounded to bfloat16 or float16 by torch's round-to-nearest-even
  conversion (the norms stay float32), as a LoRA run with `--base-dtype bf16|f16` keeps it.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "golden"))
    args = parser.parse_args()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg, weights = ref.read_checkpoint(os.path.join(args.out, "tiny_llama.bin"))
    adapters = make_adapters(gen, cfg, 0.1)
    sft_batch = make_golden.make_batch(gen, cfg.vocab_size)
    nq_batch = nq.make_batch(gen, cfg.vocab_size)
    records = adapter_records("", adapters)
    for prefix, base in [("", weights)] + [(f"{name}/", rounded_base(weights, dtype))
                                           for name, dtype in HALF_TYPES]:
        records += sft_part(cfg, base, adapters, sft_batch, prefix)
        records += nextquill_part(cfg, base, adapters, nq_batch, prefix)
        records += adamw_part(cfg, base, adapters, sft_batch, prefix)
    path = os.path.join(args.out, "lora_golden.bin")
    make_golden.write_golden(path, records)
    back = make_golden.read_golden(path)
    assert list(back) == [name for name, _ in records]
    make_golden.write_readme(os.path.join(args.out, "README.md"), README.format(
        torch_version=torch.__version__, seed=SEED, r=R, alpha=ALPHA, scale=ALPHA / R,
        steps=ADAMW_STEPS, lr=LR, betas=BETAS, eps=ADAM_EPS, wd=WEIGHT_DECAY, clip=CLIP_NORM))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    for name, array in records:
        if name.endswith("loss") or name.endswith("losses"):
            print(f"  {name} {array.tolist()}")


if __name__ == "__main__":
    main()
