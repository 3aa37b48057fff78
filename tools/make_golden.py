#!/usr/bin/python3
"""Write the golden files the C tests compare a whole training step against (the llm.c
test_gpt2 approach), using the PyTorch reference in tools/llama_reference.py.

    /usr/bin/python3 tools/make_golden.py [--out tests/golden]

Outputs (committed; CI does not run this script and does not need PyTorch):
  tiny_llama.bin         a tiny random Llama in llama2.c format (GQA on, shared classifier)
  tiny_llama_golden.bin  inputs and expected outputs, in the tagged "VKQG" format below
  README.md              how the files were made and what each record is

Everything is computed in float64 from the float32 values stored in the files, then rounded
to float32, so the golden values are more accurate than the float32 C code under test.
Seeds are fixed: running the script again reproduces the files byte for byte.

VKQG format (little-endian): "VKQG", uint32 version (1), uint32 record count, then per
record: uint32 name length, name (ASCII, no NUL), uint32 dtype (0 float32, 1 int32),
uint32 ndim, ndim x uint32 dims, then the data (row-major).
"""

import argparse
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402

CFG = ref.Config(dim=32, hidden_dim=80, n_layers=2, n_heads=4, n_kv_heads=2,
                 vocab_size=64, seq_len=32, shared_classifier=True)
SEQ_LENS = (7, 12, 5)   # three packed sequences, T = 24
N_DROPPED_ROWS = 2      # candidate rows left out, so that row selection is exercised
SEED = 20261125

ADAMW_STEPS = 10
LR, BETAS, ADAM_EPS, WEIGHT_DECAY = 1e-2, (0.9, 0.95), 1e-8, 0.1
CLIP_NORM = 1.0

F64 = torch.float64
DTYPE_CODES = {np.dtype("float32"): 0, np.dtype("int32"): 1}
MAGIC, VERSION = b"VKQG", 1


# ----------------------------------------------------------------------------------------
# The VKQG container


def write_golden(path, records):
    """records: list of (name, numpy array of float32 or int32)."""
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, len(records)))
        for name, array in records:
            array = np.ascontiguousarray(array)
            encoded = name.encode("ascii")
            f.write(struct.pack("<I", len(encoded)) + encoded)
            f.write(struct.pack("<II", DTYPE_CODES[array.dtype], array.ndim))
            f.write(struct.pack(f"<{array.ndim}I", *array.shape))
            f.write(array.astype(array.dtype.newbyteorder("<")).tobytes())


def read_golden(path):
    """The inverse of write_golden (used here to check the written file): {name: array}."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == MAGIC, "bad magic"
    version, count = struct.unpack_from("<II", data, 4)
    assert version == VERSION
    at, records = 12, {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + n].decode("ascii")
        at += 4 + n
        dtype_code, ndim = struct.unpack_from("<II", data, at)
        dims = struct.unpack_from(f"<{ndim}I", data, at + 8)
        at += 8 + 4 * ndim
        dtype = "<f4" if dtype_code == 0 else "<i4"
        count_elems = int(np.prod(dims))
        records[name] = np.frombuffer(data, dtype, count_elems, at).reshape(dims)
        at += 4 * count_elems
    assert at == len(data), "trailing bytes"
    return records


def write_readme(path, text):
    """Replaces the README's section headed by text's first line (from that heading to the
    next "## " heading, or the end), or appends it; sections are one blank line apart."""
    heading = text.split("\n", 1)[0]
    old = open(path).read() if os.path.exists(path) else ""
    start = old.find(heading)
    if start < 0:
        new = (old.rstrip("\n") + "\n\n" if old else "") + text
    else:
        end = old.find("\n## ", start + len(heading))
        rest = "\n" + old[end + 1:] if end >= 0 else ""
        new = old[:start] + text.rstrip("\n") + "\n" + rest
    with open(path, "w") as f:
        f.write(new)


# ----------------------------------------------------------------------------------------
# The batch and the loss


def make_tiny_weights(gen, cfg=CFG):
    """Weights normal(0, 0.1); RMSNorm gains 1 + 0.1 * normal. Rounded to float32."""
    weights = {}
    for name, shape in cfg.param_shapes():
        w = 0.1 * torch.randn(shape, generator=gen, dtype=F64)
        if name.startswith("rms"):
            w = w + 1.0
        weights[name] = w.numpy().astype(np.float32)
    return weights


def make_batch(gen, vocab_size=CFG.vocab_size):
    """Packed tokens, offsets, the selected rows, their targets and loss weights."""
    offsets = np.concatenate([[0], np.cumsum(SEQ_LENS)]).astype(np.int32)
    T = int(offsets[-1])
    tokens = torch.randint(0, vocab_size, (T,), generator=gen).numpy().astype(np.int32)

    # Every position with a next token inside its own sequence is a candidate ...
    candidates = [p for s in range(len(SEQ_LENS)) for p in range(offsets[s], offsets[s + 1] - 1)]
    # ... but a few are left out, so that computing logits only at chosen rows is tested.
    dropped = torch.randperm(len(candidates), generator=gen)[:N_DROPPED_ROWS].tolist()
    rows = np.array([p for k, p in enumerate(candidates) if k not in dropped], dtype=np.int32)
    targets = tokens[rows + 1]

    # Random positive weights summing to 1 (in float64), rounded to float32: the loss
    # below uses exactly the stored float32 values.
    w = 0.5 + torch.rand(len(rows), generator=gen, dtype=F64)
    weights = (w / w.sum()).numpy().astype(np.float32)
    return tokens, offsets, rows, targets, weights


def weighted_loss(model, batch):
    """sum_r weights[r] * cross_entropy(logits[r], targets[r]) and the logits [R, V]."""
    tokens, offsets, rows, targets, weights = batch
    logits = model.forward_packed(torch.from_numpy(tokens).long(), offsets,
                                  torch.from_numpy(rows).long())
    ce = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets).long(),
                                           reduction="none")
    return (torch.from_numpy(weights).to(F64) * ce).sum(), logits


# ----------------------------------------------------------------------------------------
# Self-checks of the reference itself (cheap; they guard the golden values)


def check_packing_is_exact(model, batch):
    """Running every sequence on its own gives the same logits as the packed batch."""
    tokens, offsets, *_ = batch
    with torch.no_grad():
        packed = model.forward_packed(torch.from_numpy(tokens).long(), offsets)
        for s in range(len(SEQ_LENS)):
            seq = torch.from_numpy(tokens[offsets[s]:offsets[s + 1]]).long()
            alone = model.forward_batched(seq[None])[0]
            err = (alone - packed[offsets[s]:offsets[s + 1]]).abs().max().item()
            assert err < 1e-12, f"sequence {s}: packed and alone differ by {err}"


def check_gradients_by_finite_differences(model, batch, grads):
    """Central differences on a few parameter entries agree with autograd."""
    gen = torch.Generator().manual_seed(7)
    flat_index = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            for _ in range(2):
                i = int(torch.randint(0, p.numel(), (1,), generator=gen))
                h, view, saved = 1e-6, p.view(-1), p.view(-1)[i].item()
                view[i] = saved + h
                up = weighted_loss(model, batch)[0].item()
                view[i] = saved - h
                down = weighted_loss(model, batch)[0].item()
                view[i] = saved
                fd, ad = (up - down) / (2 * h), grads[flat_index + i].item()
                assert abs(fd - ad) <= 1e-6 + 1e-5 * abs(ad), f"{name}[{i}]: {fd} vs {ad}"
            flat_index += p.numel()


# ----------------------------------------------------------------------------------------


README = """\
# Golden files (written by tools/make_golden.py; do not edit)

Made with `/usr/bin/python3 tools/make_golden.py` (PyTorch {torch_version}, fixed seeds, computed in float64 from the stored float32 inputs, stored as float32); CI only reads them.

- `tiny_llama.bin`: a random llama2.c checkpoint: dim {dim}, hidden_dim {hidden_dim}, n_layers {n_layers}, n_heads {n_heads}, n_kv_heads {n_kv_heads}, vocab_size {vocab_size}, seq_len {seq_len}, shared classifier; weights normal(0, 0.1), RMSNorm gains 1 + 0.1 normal.
- `tiny_llama_golden.bin` ("VKQG": uint32 version 1, uint32 count; per record uint32 name length, name, uint32 dtype 0=f32/1=i32, uint32 ndim, uint32 dims, data; little-endian), records in this order:
  - `tokens` i32 [{T}]: three packed sequences of lengths {seq_lens}; `offsets` i32 [{S1}]: {offsets}.
  - `rows` i32 [{R}]: the token indices whose logits are computed (every index with a next token in its sequence, except {dropped}); `targets` i32 [{R}]: the next token; `weights` f32 [{R}]: positive, sum 1.
  - `logits` f32 [{R}, {vocab_size}] at those rows; `loss` f32 [1] = sum_r weights[r] * cross_entropy(logits[r], targets[r]) = {loss:.6f}.
  - `grads` f32 [{P}]: d loss / d parameters, flattened in llama2.c file order without the RoPE tables (tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final).
  - `adamw_losses` f32 [{steps}] and `grad_norms` f32 [{steps}]: the loss and global gradient L2 norm before each of {steps} steps on the same batch; `params_after` f32 [{P}]: the parameters after them. Each step is torch's clip_grad_norm_(max_norm={clip}) -- g *= min(1, {clip} / (norm + 1e-6)) -- then torch.optim.AdamW(lr={lr}, betas={betas}, eps={eps}, weight_decay={wd}) on every parameter: p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "golden"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)  # nothing should draw from the global generator; just in case
    gen = torch.Generator().manual_seed(SEED)

    # The checkpoint: write it, then read it back so the model is exactly what C will load.
    model_path = os.path.join(args.out, "tiny_llama.bin")
    ref.write_checkpoint(model_path, CFG, make_tiny_weights(gen))
    cfg, weights = ref.read_checkpoint(model_path)
    assert cfg == CFG

    batch = make_batch(gen)
    tokens, offsets, rows, targets, loss_weights = batch

    # Forward and backward at the initial weights.
    model = ref.Llama.from_weights(cfg, weights, F64)
    check_packing_is_exact(model, batch)
    loss, logits = weighted_loss(model, batch)
    loss.backward()
    grads = model.flat_grads().clone()
    check_gradients_by_finite_differences(model, batch, grads)

    # Ten AdamW steps on the same batch, from the same initial weights.
    model = ref.Llama.from_weights(cfg, weights, F64)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS,
                            weight_decay=WEIGHT_DECAY)
    adamw_losses, grad_norms = [], []
    for step in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        step_loss, _ = weighted_loss(model, batch)
        step_loss.backward()
        if step == 0:
            assert torch.equal(model.flat_grads(), grads)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        adamw_losses.append(step_loss.item())
        grad_norms.append(norm.item())

    f32 = lambda t: np.asarray(t.detach().numpy() if torch.is_tensor(t) else t, np.float32)
    records = [
        ("tokens", tokens),
        ("offsets", offsets),
        ("rows", rows),
        ("targets", targets),
        ("weights", loss_weights),
        ("logits", f32(logits)),
        ("loss", f32([loss.item()])),
        ("grads", f32(grads)),
        ("adamw_losses", f32(adamw_losses)),
        ("grad_norms", f32(grad_norms)),
        ("params_after", f32(model.flat_params())),
    ]
    golden_path = os.path.join(args.out, "tiny_llama_golden.bin")
    write_golden(golden_path, records)
    back = read_golden(golden_path)
    assert list(back) == [name for name, _ in records]
    for name, array in records:
        assert np.array_equal(back[name], array), name

    candidates = [p for s in range(len(SEQ_LENS)) for p in range(offsets[s], offsets[s + 1] - 1)]
    dropped = sorted(set(candidates) - set(rows.tolist()))
    write_readme(os.path.join(args.out, "README.md"), README.format(
        torch_version=torch.__version__, **{k: getattr(CFG, k) for k in (
            "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
            "seq_len")},
        T=len(tokens), S1=len(offsets), seq_lens=", ".join(map(str, SEQ_LENS)),
        offsets=offsets.tolist(), R=len(rows),
        dropped="token indices " + " and ".join(map(str, dropped)),
        loss=loss.item(), P=CFG.n_params(), steps=ADAMW_STEPS, clip=CLIP_NORM, lr=LR,
        betas=BETAS, eps=ADAM_EPS, wd=WEIGHT_DECAY))

    print(f"wrote {model_path} ({os.path.getsize(model_path)} bytes) and {golden_path} "
          f"({os.path.getsize(golden_path)} bytes)")
    for name, array in records:
        print(f"  {name:13s} {str(array.dtype):8s} {list(array.shape)}")
    print(f"tokens {tokens.tolist()}\noffsets {offsets.tolist()}\nrows {rows.tolist()} "
          f"(dropped {dropped})\nloss {loss.item():.9f}")
    print("adamw losses " + " ".join(f"{x:.6f}" for x in adamw_losses))
    print("grad norms   " + " ".join(f"{x:.6f}" for x in grad_norms))


if __name__ == "__main__":
    main()
