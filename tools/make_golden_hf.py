#!/usr/bin/python3
"""Write tiny random Hugging Face model directories of each architecture vkquill runs, and the
golden values of a whole training step on each, from an independent float64 PyTorch model.

    /usr/bin/python3 tools/make_golden_hf.py [--out tests/golden/hf]

For every ARCH in llama3, qwen2, qwen3, mistral it writes (committed; CI never runs this):
  ARCH/config.json, ARCH/model.safetensors        float32 weights
  ARCH_bf16/config.json, ARCH_bf16/model.safetensors  the same weights as bfloat16
  ARCH_golden.bin                                 VKQG records (tools/make_golden.py's format)

The weights are drawn in float64 and rounded to bfloat16, so the float32 and bfloat16 files
hold exactly the same values and one golden file serves both. The model below is written
from the semantics of transformers' modeling_llama / modeling_qwen2 / modeling_qwen3 /
modeling_mistral (RMSNorm, rotate_half RoPE with the llama3 frequency scaling, grouped-query
attention, q/k/v biases, per-head q/k RMSNorm, SwiGLU, tied embeddings); it shares no code
with vkquill. safetensors are written by hand: 8-byte little-endian header length, JSON
header, raw little-endian data.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import SEQ_LENS, make_batch, read_golden, write_golden  # noqa: E402

F64 = torch.float64
SEED = 20261203

COMMON = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=2, vocab_size=40,
              max_position_embeddings=64, rms_norm_eps=1e-6, hidden_act="silu",
              bos_token_id=1, eos_token_id=2, torch_dtype="float32")

ARCHS = {
    # Llama 3.x: tied embeddings, llama3 rope scaling (original context 256 puts the four
    # wavelengths 6.3, 167, 4443 and 118000 in all three bands), theta 500000.
    "llama3": dict(architectures=["LlamaForCausalLM"], model_type="llama",
                   num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                   rope_theta=500000.0, tie_word_embeddings=True, attention_bias=False,
                   mlp_bias=False,
                   rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                     high_freq_factor=4.0,
                                     original_max_position_embeddings=256),
                   eos_token_id=[2, 3]),
    # Qwen2 / Qwen2.5: q, k and v projections carry biases.
    "qwen2": dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                  num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                  tie_word_embeddings=True, use_sliding_window=False, sliding_window=None,
                  max_window_layers=2, rope_scaling=None),
    # Qwen3: per-head q/k RMSNorm, head_dim 8 with 4 heads on a width of 16.
    "qwen3": dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                  rope_theta=1000000.0, tie_word_embeddings=True, attention_bias=False,
                  use_sliding_window=False, sliding_window=None, rope_scaling=None),
    # Mistral: untied classifier, nothing else.
    "mistral": dict(architectures=["MistralForCausalLM"], model_type="mistral",
                    num_attention_heads=4, num_key_value_heads=1, rope_theta=10000.0,
                    tie_word_embeddings=False, sliding_window=None, rope_scaling=None),
}


def arch_config(name):
    cfg = dict(COMMON)
    cfg.update(ARCHS[name])
    return cfg


def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


# ----------------------------------------------------------------------------------------
# Tensors by Hugging Face name


def tensor_shapes(cfg):
    d, h, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = head_dim_of(cfg)
    qd, kvd = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    shapes = [("model.embed_tokens.weight", (v, d))]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes.append((p + "input_layernorm.weight", (d,)))
        shapes += [(p + "self_attn.q_proj.weight", (qd, d)),
                   (p + "self_attn.k_proj.weight", (kvd, d)),
                   (p + "self_attn.v_proj.weight", (kvd, d))]
        if cfg["model_type"] == "qwen2":
            shapes += [(p + "self_attn.q_proj.bias", (qd,)),
                       (p + "self_attn.k_proj.bias", (kvd,)),
                       (p + "self_attn.v_proj.bias", (kvd,))]
        if cfg["model_type"] == "qwen3":
            shapes += [(p + "self_attn.q_norm.weight", (hd,)),
                       (p + "self_attn.k_norm.weight", (hd,))]
        shapes += [(p + "self_attn.o_proj.weight", (d, qd)),
                   (p + "post_attention_layernorm.weight", (d,)),
                   (p + "mlp.gate_proj.weight", (h, d)),
                   (p + "mlp.up_proj.weight", (h, d)),
                   (p + "mlp.down_proj.weight", (d, h))]
    shapes.append(("model.norm.weight", (d,)))
    if not cfg["tie_word_embeddings"]:
        shapes.append(("lm_head.weight", (v, d)))
    return shapes


def bf16_exact(t):
    return t.to(torch.bfloat16).to(F64)


def make_weights(cfg, gen):
    """normal(0, 0.2) matrices, norm gains 1 + 0.1 normal, biases 0.1 normal; bf16 values."""
    weights = {}
    for name, shape in tensor_shapes(cfg):
        w = torch.randn(shape, generator=gen, dtype=F64)
        if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            w = 1.0 + 0.1 * w
        elif name.endswith(".bias"):
            w = 0.1 * w
        else:
            w = 0.2 * w
        weights[name] = bf16_exact(w)
    return weights


# ----------------------------------------------------------------------------------------
# The model, float64


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def default_inv_freq(cfg):
    hd = head_dim_of(cfg)
    return 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=F64) / hd))


def llama3_inv_freq(cfg):
    """transformers' _compute_llama3_parameters, in float64."""
    s = cfg["rope_scaling"]
    inv_freq = default_inv_freq(cfg)
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old_context = s["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def inv_freq_of(cfg):
    if cfg.get("rope_scaling"):
        return llama3_inv_freq(cfg)
    return default_inv_freq(cfg)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, positions, inv_freq):
    """x [T, heads, hd]; HF: x * cos + rotate_half(x) * sin with emb = cat(freqs, freqs)."""
    freqs = positions.to(F64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    return x * cos + rotate_half(x) * sin


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def attention(q, k, v, offsets):
    """Causal attention within each packed sequence; q [T, H, hd], k v [T, KV, hd]."""
    heads, kv_heads, hd = q.shape[1], k.shape[1], q.shape[2]
    group = heads // kv_heads
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    out = []
    for s in range(len(offsets) - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        qs, ks, vs = q[a:b].transpose(0, 1), k[a:b].transpose(0, 1), v[a:b].transpose(0, 1)
        scores = qs @ ks.transpose(1, 2) / math.sqrt(hd)
        n = b - a
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        out.append((scores.softmax(-1) @ vs).transpose(0, 1))
    return torch.cat(out, dim=0)


def forward(cfg, w, tokens, offsets, rows):
    """Logits [len(rows), V] of the packed batch."""
    eps, hd = cfg["rms_norm_eps"], head_dim_of(cfg)
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    positions = torch.cat([torch.arange(int(offsets[s + 1] - offsets[s]))
                           for s in range(len(offsets) - 1)])
    inv_freq = inv_freq_of(cfg)
    x = w["model.embed_tokens.weight"][tokens]
    T = x.shape[0]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
        k = linear(h, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
        v = linear(h, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
        q, k, v = q.view(T, heads, hd), k.view(T, kv_heads, hd), v.view(T, kv_heads, hd)
        if p + "self_attn.q_norm.weight" in w:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = apply_rope(q, positions, inv_freq), apply_rope(k, positions, inv_freq)
        att = attention(q, k, v, offsets).reshape(T, heads * hd)
        x = x + linear(att, w[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, w[p + "mlp.gate_proj.weight"])
        up = linear(h, w[p + "mlp.up_proj.weight"])
        x = x + linear(torch.nn.functional.silu(gate) * up, w[p + "mlp.down_proj.weight"])
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return linear(x[rows], head)


# ----------------------------------------------------------------------------------------
# Batch, loss, checks


def weighted_loss(cfg, w, batch):
    tokens, offsets, rows, targets, weights = batch
    logits = forward(cfg, w, torch.from_numpy(tokens).long(), offsets,
                     torch.from_numpy(rows).long())
    ce = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets).long(),
                                           reduction="none")
    return (torch.from_numpy(weights).to(F64) * ce).sum(), logits


def check_finite_differences(cfg, w, batch):
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for name, p in w.items():
            for _ in range(2):
                i = int(torch.randint(0, p.numel(), (1,), generator=gen))
                view, saved, h = p.view(-1), p.view(-1)[i].item(), 1e-6
                view[i] = saved + h
                up = weighted_loss(cfg, w, batch)[0].item()
                view[i] = saved - h
                down = weighted_loss(cfg, w, batch)[0].item()
                view[i] = saved
                fd, ad = (up - down) / (2 * h), p.grad.view(-1)[i].item()
                assert abs(fd - ad) <= 1e-6 + 1e-5 * abs(ad), f"{name}[{i}]: {fd} vs {ad}"


def check_packing(cfg, w, batch):
    """Each sequence alone gives the logits it gets in the packed batch."""
    tokens, offsets, *_ = batch
    with torch.no_grad():
        t = torch.from_numpy(tokens).long()
        packed = forward(cfg, w, t, offsets, torch.arange(len(tokens)))
        for s in range(len(SEQ_LENS)):
            a, b = int(offsets[s]), int(offsets[s + 1])
            alone = forward(cfg, w, t[a:b], np.array([0, b - a]), torch.arange(b - a))
            assert (alone - packed[a:b]).abs().max().item() < 1e-12


# ----------------------------------------------------------------------------------------
# Files


def write_safetensors(path, weights, dtype):
    header, blobs, at = {}, [], 0
    for name, t in weights.items():
        f32 = t.detach().to(torch.float32).contiguous().numpy()
        if dtype == "BF16":
            data = (f32.view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            data = f32.astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if meta["dtype"] == "BF16":
            values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            values = np.frombuffer(raw, "<f4")
        out[name] = torch.from_numpy(values.astype(np.float64)).view(meta["shape"])
    return out


def write_dir(path, cfg, weights, dtype):
    os.makedirs(path, exist_ok=True)
    cfg = dict(cfg, torch_dtype="bfloat16" if dtype == "BF16" else "float32")
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(path, "model.safetensors"), weights, dtype)
    back = read_safetensors(os.path.join(path, "model.safetensors"))
    assert list(back) == list(weights)
    for name in weights:
        assert torch.equal(back[name], weights[name]), name


def make_arch(name, out, gen):
    cfg = arch_config(name)
    weights = make_weights(cfg, gen)
    write_dir(os.path.join(out, name), cfg, weights, "F32")
    write_dir(os.path.join(out, name + "_bf16"), cfg, weights, "BF16")
    batch = make_batch(gen, cfg["vocab_size"])
    w = {k: v.clone().requires_grad_(True) for k, v in weights.items()}
    check_packing(cfg, w, batch)
    loss, logits = weighted_loss(cfg, w, batch)
    loss.backward()
    check_finite_differences(cfg, w, batch)

    f32 = lambda t: np.asarray(t.detach().numpy(), np.float32)
    tokens, offsets, rows, targets, loss_weights = batch
    records = [("tokens", tokens), ("offsets", offsets), ("rows", rows), ("targets", targets),
               ("weights", loss_weights), ("logits", f32(logits)),
               ("loss", np.array([loss.item()], np.float32))]
    records += [("param:" + k, f32(v)) for k, v in weights.items()]
    records += [("grad:" + k, f32(v.grad)) for k, v in w.items()]
    golden = os.path.join(out, name + "_golden.bin")
    write_golden(golden, records)
    back = read_golden(golden)
    for key, array in records:
        assert np.array_equal(back[key], array), key
    print(f"{name}: loss {loss.item():.6f}, {sum(v.numel() for v in weights.values())} "
          f"parameters, inv_freq {inv_freq_of(cfg).tolist()}")
    return loss.item()


README = """\
# Hugging Face golden models (written by tools/make_golden_hf.py; do not edit)

Made with `/usr/bin/python3 tools/make_golden_hf.py` (PyTorch {torch_version}, seed {seed}); CI
only reads them. Each architecture has a float32 directory `ARCH/` and a bfloat16 one
`ARCH_bf16/` (config.json + model.safetensors) holding the same values (the weights were
rounded to bfloat16 when drawn), and `ARCH_golden.bin` (VKQG, see ../README.md):

- `tokens` i32 [24] in three packed sequences of lengths 7, 12, 5, `offsets` i32 [4], `rows`
  i32 [19] (every position with a next token but two), `targets`, `weights` (positive, sum 1);
- `logits` f32 [19, vocab] at those rows, `loss` f32 [1] = sum_r weights[r] * CE(logits[r],
  targets[r]), computed in float64 by an independent PyTorch model of each architecture;
- `param:NAME` and `grad:NAME` for every tensor NAME of model.safetensors: its values and
  d loss / d NAME.

| arch | what it exercises | loss |
|---|---|---|
{rows}
"""

WHAT = {
    "llama3": "rotate_half RoPE, llama3 rope_scaling, theta 500000, tied embeddings, eos list",
    "qwen2": "q/k/v biases, theta 1e6, tied embeddings",
    "qwen3": "q/k RMSNorm per head, head_dim 8 != hidden 16 / 4 heads",
    "mistral": "untied lm_head, plain",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "golden", "hf"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    losses = {name: make_arch(name, args.out, gen) for name in ARCHS}
    rows = "\n".join(f"| {n} | {WHAT[n]} | {losses[n]:.6f} |" for n in ARCHS)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README.format(torch_version=torch.__version__, seed=SEED, rows=rows))


if __name__ == "__main__":
    main()
