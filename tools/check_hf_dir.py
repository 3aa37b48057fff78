#!/usr/bin/python3
"""Check that a Hugging Face directory vkquill wrote loads in an independent reader and
computes what the model it came from computes.

    /usr/bin/python3 tools/check_hf_dir.py DIR GOLDEN.bin [--nmse 1e-10]

DIR's config.json is read with json and its safetensors (model.safetensors or the shards an
index names) byte by byte, without vkquill and without the safetensors package; the config
keys transformers reads become the float64 model of tools/make_golden_hf.py, whose logits on
GOLDEN's packed batch (tokens, offsets, rows) must match GOLDEN's logits. Use it on
`vkquill convert --model tests/golden/tiny_llama.bin --out DIR` (GOLDEN
tests/golden/tiny_llama_golden.bin, written by tools/make_golden.py from llama2.c's layout),
or on a Hugging Face golden directory written back by vkquill (GOLDEN its ARCH_golden.bin).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import read_golden  # noqa: E402
from make_golden_hf import forward, tensor_shapes  # noqa: E402

DTYPES = {"F32": ("<f4", None), "F16": ("<f2", None), "BF16": ("<u2", "bf16")}


def read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        kind, special = DTYPES[meta["dtype"]]
        values = np.frombuffer(body[a:b], kind)
        if special == "bf16":
            values = (values.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(values.astype(np.float64)).view(meta["shape"])
    return out


def read_dir(path):
    index = os.path.join(path, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_file(os.path.join(path, "model.safetensors"))
    with open(index) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    weights = {}
    for shard in shards:
        weights.update(read_file(os.path.join(path, shard)))
    return weights


def model_config(path):
    """config.json with transformers' defaults for the keys the model reads."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
    cfg.setdefault("rope_theta", 10000.0)
    cfg.setdefault("tie_word_embeddings", False)
    cfg["model_type"] = cfg.get("model_type", "llama")
    if cfg.get("rope_scaling") and cfg["rope_scaling"].get("rope_type") != "llama3":
        cfg["rope_scaling"] = None
    return cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("golden")
    parser.add_argument("--nmse", type=float, default=1e-10,
                        help="largest logits NMSE accepted (rounding to 16 bits needs ~1e-4)")
    args = parser.parse_args()
    cfg = model_config(args.dir)
    weights = read_dir(args.dir)
    want = dict(tensor_shapes(cfg))
    assert set(weights) == set(want), f"tensors {sorted(set(weights) ^ set(want))} differ"
    for name, shape in want.items():
        assert tuple(weights[name].shape) == tuple(shape), f"{name}: {weights[name].shape}"
    g = read_golden(args.golden)
    tokens = torch.from_numpy(np.array(g["tokens"])).long()
    rows = torch.from_numpy(np.array(g["rows"])).long()
    with torch.no_grad():
        logits = forward(cfg, weights, tokens, g["offsets"], rows).numpy()
    ref = g["logits"].astype(np.float64)
    nmse = float(((logits - ref) ** 2).sum() / (ref ** 2).sum())
    print(f"{args.dir}: {cfg['architectures'][0]}, {len(weights)} tensors, "
          f"{cfg.get('torch_dtype')}; logits nmse {nmse:.3e} against {args.golden}")
    sys.exit(0 if nmse < args.nmse else 1)


if __name__ == "__main__":
    main()
