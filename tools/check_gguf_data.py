#!/usr/bin/python3
"""Checks the tensor data of the GGUF files `vkquill export gguf` writes, read here by hand:
every GGUF tensor must equal its safetensors tensor (q and k rows of "llama" models after
llama.cpp's converter permutation), exactly in f32 and as PyTorch's rounding in f16/bf16;
rope_freqs must hold llama3 scaling's divisors as transformers computes the scaled frequencies.
Run from the project root: /usr/bin/python3 tools/check_gguf_data.py [build/vkquill]"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [("llama3", "llama3", None), ("llama3_bf16", "llama3", None), ("llama3", "llama3", "f16"),
         ("llama3", "llama3", "bf16"), ("qwen2", "qwen", None), ("qwen2", "qwen", "f16"),
         ("qwen3", "qwen", None), ("qwen3_bf16", "qwen", "f32"), ("mistral", "spm", None),
         ("mistral_bf16", "spm", "f16"), ("mistral", "spm", "bf16")]
GGML = {0: (torch.float32, 4), 1: (torch.float16, 2), 30: (torch.bfloat16, 2)}
ST = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        n = self.take("Q")
        s = self.data[self.at:self.at + n].decode("utf-8")
        self.at += n
        return s

    def value(self, t):
        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
        if t in scalar:
            return self.take(scalar[t])
        if t == 8:
            return self.string()
        assert t == 9
        sub, n = self.take("I"), self.take("Q")
        return [self.value(sub) for _ in range(n)]


def read_gguf(path):
    data = open(path, "rb").read()
    r = Reader(data)
    assert r.take("4s") == b"GGUF" and r.take("I") == 3
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        infos.append((name, dims, r.take("I"), r.take("Q")))
    align = meta.get("general.alignment", 32)
    start = (r.at + align - 1) // align * align
    tensors = {}
    for name, dims, t, offset in infos:
        dtype, size = GGML[t]
        count = math.prod(dims)
        raw = bytearray(data[start + offset:start + offset + count * size])
        tensors[name] = (torch.frombuffer(raw, dtype=dtype).reshape(list(reversed(dims))), t)
    return meta, tensors


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data)[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        raw = bytearray(data[8 + n + b:8 + n + e])
        out[name] = torch.frombuffer(raw, dtype=ST[h["dtype"]]).reshape(h["shape"]).float()
    return out


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: halves back to interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def expected(config, hf, name):
    arch = config["model_type"]
    parts = name.split(".")
    if name == "token_embd.weight":
        return hf["model.embed_tokens.weight"]
    if name == "output_norm.weight":
        return hf["model.norm.weight"]
    if name == "output.weight":
        return hf["lm_head.weight"]
    gg = ".".join(parts[2:])
    table = {"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
             "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
             "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
             "attn_v.bias": "self_attn.v_proj.bias", "attn_q_norm.weight": "self_attn.q_norm.weight",
             "attn_k_norm.weight": "self_attn.k_norm.weight", "attn_output.weight": "self_attn.o_proj.weight",
             "ffn_norm.weight": "post_attention_layernorm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
             "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight"}
    w = hf[f"model.layers.{parts[1]}.{table[gg]}"]
    if arch in ("llama", "mistral") and gg.startswith("attn_q."):
        w = permute(w, config["num_attention_heads"])
    if arch in ("llama", "mistral") and gg.startswith("attn_k."):
        w = permute(w, config.get("num_key_value_heads", config["num_attention_heads"]))
    return w


def rope_divisors(config):
    """transformers' llama3 frequency scaling, as the divisor of each unscaled frequency."""
    s = config["rope_scaling"]
    dim = config.get("head_dim", config["hidden_size"] // config["num_attention_heads"])
    context = s["original_max_position_embeddings"]
    low, high = context / s["low_freq_factor"], context / s["high_freq_factor"]
    out = []
    for i in range(0, dim, 2):
        wavelen = 2 * math.pi * config["rope_theta"] ** (i / dim)
        if wavelen < high:
            out.append(1.0)
        elif wavelen > low:
            out.append(s["factor"])
        else:
            smooth = (context / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
            out.append(1 / ((1 - smooth) / s["factor"] + smooth))
    return torch.tensor(out, dtype=torch.float64)


def check_case(vkquill, work, golden, fixture, out_type):
    name = f"{golden}_{out_type or 'own'}"
    d = os.path.join(work, name)
    os.mkdir(d)
    for src in (os.path.join(ROOT, "tests/golden/hf", golden), os.path.join(ROOT, "tests/data/gguf", fixture)):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
    path = os.path.join(work, name + ".gguf")
    subprocess.run([vkquill, "export", "gguf", "--model", d, "--out", path] +
                   (["--type", out_type] if out_type else []), check=True, capture_output=True)
    config = json.load(open(os.path.join(d, "config.json")))
    hf = read_safetensors(os.path.join(d, "model.safetensors"))
    _, tensors = read_gguf(path)
    worst = 0.0
    for gname, (got, t) in tensors.items():
        if gname == "rope_freqs.weight":
            want = rope_divisors(config)
            err = ((got.double() - want).abs() / want).max().item()
            assert t == 0 and err < 1e-6, f"{name}: {gname} off by {err}"
            worst = max(worst, err)
            continue
        want = expected(config, hf, gname)
        want = want.to(got.dtype)
        assert got.shape == want.shape, f"{name}: {gname} shape {tuple(got.shape)} vs {tuple(want.shape)}"
        matrix_type = {"f32": 0, "f16": 1, "bf16": 30}[out_type or
                       {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}[config["torch_dtype"]]]
        assert t == (matrix_type if got.dim() == 2 else 0), f"{name}: {gname} has type {t}"
        assert torch.equal(got.view(torch.int16 if got.element_size() == 2 else torch.int32),
                           want.view(torch.int16 if want.element_size() == 2 else torch.int32)), \
            f"{name}: {gname} differs"
    print(f"{name}: {len(tensors)} tensors equal bit for bit"
          + (f", rope_freqs within {worst:.1e}" if "rope_freqs.weight" in tensors else ""))


def main():
    vkquill = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "vkquill")
    work = tempfile.mkdtemp(prefix="check-gguf-data-")
    try:
        for golden, fixture, out_type in CASES:
            check_case(vkquill, work, golden, fixture, out_type)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
