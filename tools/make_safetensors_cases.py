#!/usr/bin/python3
"""Write the safetensors files the C tests read, with a writer independent of vkquill's:
the format is laid out by hand here and the tensor bytes come from PyTorch.

    /usr/bin/python3 tools/make_safetensors_cases.py [--out tests/data/safetensors]

Outputs (committed; CI does not run this script and does not need PyTorch):
  mixed.safetensors        F32, BF16, F16, a scalar, an empty tensor, F64, I64 and F8_E4M3
                           tensors with __metadata__; header keys, data order and name order
                           all differ, and the header is not padded, so no data is aligned
  mixed.expected.json      per tensor: dtype, shape, and its values as float32 bit patterns
                           (torch's .float() of the stored tensor) for the three float dtypes
  conversion.safetensors   "source" (F32: rounding edge cases and random values over the whole
                           half range), "bf16" / "f16" (torch's .to() of source) and
                           "bf16_f32" / "f16_f32" (torch's .float() of those)
  sharded/                 model.safetensors.index.json and two shards, as transformers
                           writes them
  bad/*.safetensors        one file per rule the reader enforces (see BAD below)
  bad_shards/*/            one directory per rule of sharded checkpoints

Deterministic: running it again reproduces every file byte for byte.
"""

import argparse
import json
import os
import shutil
import struct

import torch

DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.float64: "F64", torch.int64: "I64"}


def raw(t):
    """The little-endian bytes of a tensor (the machine running this is little-endian)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_file(path, header, data, pad=True):
    """header: a dict serialised in its own key order; data: the bytes after it."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    write_raw(path, struct.pack("<Q", len(text)) + text + data)


def write_raw(path, blob):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(blob)


def layout(tensors, data_order):
    """tensors: {name: (dtype name, shape, bytes)}; the data is stored in data_order."""
    offsets, data, at = {}, b"", 0
    for name in data_order:
        blob = tensors[name][2]
        offsets[name] = [at, at + len(blob)]
        data += blob
        at += len(blob)
    return offsets, data


def bits_f32(t):
    return [int(x) for x in t.float().reshape(-1).view(torch.int32).numpy().astype("uint32")]


def mixed(out):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 3, generator=g)
    b = torch.randn(3, generator=g).to(torch.bfloat16)
    c = torch.randn(2, 2, generator=g).to(torch.float16)
    scalar = torch.tensor(-2.5)
    empty = torch.zeros(0, 4)
    wide = torch.tensor([1.0, -0.25], dtype=torch.float64)
    ids = torch.tensor([7, -3], dtype=torch.int64)
    tensors = {
        "model.a.weight": ("F32", [2, 3], raw(a)),
        "model.b.bias": ("BF16", [3], raw(b)),
        "model.c.weight": ("F16", [2, 2], raw(c)),
        "scalar": ("F32", [], raw(scalar)),
        "empty": ("F32", [0, 4], b""),
        "wide": ("F64", [2], raw(wide)),
        "ids": ("I64", [2], raw(ids)),
        "fp8": ("F8_E4M3", [3], bytes([0x38, 0xB8, 0x00])),  # 1.0, -1.0, 0 in E4M3
    }
    offsets, data = layout(tensors, ["model.c.weight", "ids", "fp8", "model.a.weight", "empty",
                                     "wide", "scalar", "model.b.bias"])
    header = {"scalar": None, "__metadata__": {"format": "pt", "note": "caf\u00e9 \u2603"}}
    for name in ["model.b.bias", "wide", "fp8", "model.a.weight", "empty", "ids",
                 "model.c.weight", "scalar"]:
        dtype, shape, _ = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets[name]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) % 8 == 0:
        header["__metadata__"]["pad"] = "x"  # keep the data misaligned
    write_file(os.path.join(out, "mixed.safetensors"), header, data, pad=False)
    expected = {name: {"dtype": tensors[name][0], "shape": tensors[name][1]}
                for name in tensors}
    for name, t in [("model.a.weight", a), ("model.b.bias", b), ("model.c.weight", c),
                    ("scalar", scalar), ("empty", empty)]:
        expected[name]["f32_bits"] = bits_f32(t)
    with open(os.path.join(out, "mixed.expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def conversion_source():
    edges = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 65536.0, -70000.0,
             2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26, 2.0 ** -14,
             2.0 ** -14 - 2.0 ** -24, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -11,
             1 + 3 * 2.0 ** -11, 3.4028234663852886e38, 1e-45, float("inf"), float("-inf"),
             float("nan")]
    g = torch.Generator().manual_seed(2)
    scales = torch.pow(2.0, torch.randint(-30, 17, (2000,), generator=g).float())
    return torch.cat([torch.tensor(edges, dtype=torch.float32),
                      torch.randn(2000, generator=g) * scales])


def conversion(out):
    source = conversion_source()
    bf16, f16 = source.to(torch.bfloat16), source.to(torch.float16)
    n = [source.numel()]
    tensors = {"source": ("F32", n, raw(source)), "bf16": ("BF16", n, raw(bf16)),
               "f16": ("F16", n, raw(f16)), "bf16_f32": ("F32", n, raw(bf16.float())),
               "f16_f32": ("F32", n, raw(f16.float()))}
    order = sorted(tensors)
    offsets, data = layout(tensors, order)
    header = {name: {"dtype": tensors[name][0], "shape": tensors[name][1],
                     "data_offsets": offsets[name]} for name in order}
    write_file(os.path.join(out, "conversion.safetensors"), header, data)


def shard_files(dir, shards, metadata=None, index_extra=None, skip=()):
    """shards: [{name: tensor}] written as model-0000i-of-0000n.safetensors with an index."""
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        file = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        tensors = {k: (DTYPE_NAMES[v.dtype], list(v.shape), raw(v)) for k, v in shard.items()}
        order = sorted(tensors)
        offsets, data = layout(tensors, order)
        header = {"__metadata__": {"format": "pt"}}
        for name in order:
            header[name] = {"dtype": tensors[name][0], "shape": tensors[name][1],
                            "data_offsets": offsets[name]}
            weight_map[name] = file
            total += len(tensors[name][2])
        if file not in skip:
            write_file(os.path.join(dir, file), header, data)
    index = {"metadata": metadata or {"total_size": total}, "weight_map": weight_map}
    index.update(index_extra or {})
    with open(os.path.join(dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return index


def sharded_tensors():
    g = torch.Generator().manual_seed(3)
    return [{"model.embed_tokens.weight": torch.randn(4, 3, generator=g).to(torch.bfloat16),
             "model.norm.weight": torch.randn(3, generator=g)},
            {"lm_head.weight": torch.randn(4, 3, generator=g).to(torch.float16)}]


def sharded(out):
    shard_files(os.path.join(out, "sharded"), sharded_tensors())


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def good_header(name="w"):
    return {name: entry()}


# name -> (header, data) or raw bytes; bad() adds the cases JSON cannot express. The C test
# knows which tensor each one names.
BAD = {
    "too_short": b"\x08\x00\x00",
    "header_too_large": struct.pack("<Q", 100_000_001) + b"{}",
    "header_past_end": struct.pack("<Q", 64) + b'{"w":{}}',
    "unknown_dtype": ({"w": entry(dtype="Q7")}, bytes(8)),
    "missing_dtype": ({"w": {"shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
    "missing_shape": ({"w": {"dtype": "F32", "data_offsets": [0, 8]}}, bytes(8)),
    "missing_offsets": ({"w": {"dtype": "F32", "shape": [2]}}, bytes(8)),
    "unknown_field": ({"w": dict(entry(), extra=1)}, bytes(8)),
    "negative_dim": ({"w": entry(shape=(-2,))}, bytes(8)),
    "fractional_dim": ({"w": entry(shape=(2.5,))}, bytes(8)),
    "too_many_dims": ({"w": entry(shape=(1,) * 9)}, bytes(8)),
    "count_overflow": ({"w": entry(shape=(2 ** 32, 2 ** 32, 16))}, bytes(8)),
    "size_mismatch": ({"w": entry(shape=(3,))}, bytes(8)),
    "offsets_reversed": ({"w": entry(offsets=(8, 0))}, bytes(8)),
    "offsets_not_pair": ({"w": entry(offsets=(0, 8, 16))}, bytes(8)),
    "offsets_past_data": ({"w": entry(offsets=(0, 8))}, bytes(4)),
    "overlap": ({"w": entry(offsets=(0, 8)), "x": entry(offsets=(4, 12))}, bytes(12)),
    "gap": ({"w": entry(offsets=(0, 8)), "x": entry(offsets=(12, 20))}, bytes(20)),
    "not_from_zero": ({"w": entry(offsets=(4, 12))}, bytes(12)),
    "data_past_tensors": ({"w": entry()}, bytes(12)),
    "metadata_not_string": ({"__metadata__": {"format": 1}, "w": entry()}, bytes(8)),
    "entry_not_object": ({"w": [1, 2]}, bytes(8)),
}


def header_bytes(text, data=b""):
    return struct.pack("<Q", len(text)) + text + data


def bad(out):
    d = os.path.join(out, "bad")
    shutil.rmtree(d, ignore_errors=True)
    built = {
        "header_not_utf8": header_bytes(b'{"w\xff":' + json.dumps(entry()).encode() + b"}",
                                        bytes(8)),
        "header_not_json": header_bytes(b'{"w":{"dtype":"F32",', bytes(8)),
        "header_not_object": header_bytes(b"[1,2]   "),
        "header_trailing_text": header_bytes(json.dumps(good_header()).encode() + b" x",
                                             bytes(8)),
        "header_nul": header_bytes(json.dumps(good_header()).encode() + b"\x00", bytes(8)),
        "duplicate_name": header_bytes(('{"w":%s,"w":%s}' % (
            json.dumps(entry(offsets=(0, 8))), json.dumps(entry(offsets=(8, 16))))).encode(),
            bytes(16)),
    }
    for name, case in list(BAD.items()) + list(built.items()):
        path = os.path.join(d, name + ".safetensors")
        if isinstance(case, bytes):
            write_raw(path, case)
        else:
            write_file(path, case[0], case[1])


def bad_shards(out):
    root = os.path.join(out, "bad_shards")
    shutil.rmtree(root, ignore_errors=True)
    tensors = sharded_tensors()
    shard_files(os.path.join(root, "missing_shard"), tensors,
                skip=("model-00002-of-00002.safetensors",))
    index = shard_files(os.path.join(root, "missing_tensor"), tensors)
    index["weight_map"]["model.layers.0.ghost"] = "model-00001-of-00002.safetensors"
    rewrite_index(os.path.join(root, "missing_tensor"), index)
    for case, target in [("parent_path", "../model-00001-of-00002.safetensors"),
                         ("absolute_path", "/etc/model-00001-of-00002.safetensors")]:
        index = shard_files(os.path.join(root, case), tensors)
        index["weight_map"]["model.norm.weight"] = target
        rewrite_index(os.path.join(root, case), index)
    index = shard_files(os.path.join(root, "unlisted_tensor"), tensors)
    del index["weight_map"]["model.norm.weight"]
    rewrite_index(os.path.join(root, "unlisted_tensor"), index)
    index = shard_files(os.path.join(root, "wrong_shard"), tensors)
    index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors"
    rewrite_index(os.path.join(root, "wrong_shard"), index)
    index = shard_files(os.path.join(root, "no_weight_map"), tensors)
    del index["weight_map"]
    rewrite_index(os.path.join(root, "no_weight_map"), index)
    shard_files(os.path.join(root, "bad_shard_file"), tensors)
    write_raw(os.path.join(root, "bad_shard_file", "model-00002-of-00002.safetensors"),
              header_bytes(b'{"lm_head.weight":{"dtype":"F16","shape":[4,3],'
                           b'"data_offsets":[0,20]}}', bytes(24)))


def rewrite_index(dir, index):
    with open(os.path.join(dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                 "data", "safetensors"))
    out = p.parse_args().out
    os.makedirs(out, exist_ok=True)
    mixed(out)
    conversion(out)
    sharded(out)
    bad(out)
    bad_shards(out)


if __name__ == "__main__":
    main()
