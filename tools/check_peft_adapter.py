#!/usr/bin/env python3
"""Checks a PEFT LoRA adapter directory that vkquill wrote, with nothing but the standard library.

    check_peft_adapter.py ADAPTER_DIR BASE.bin MERGED.bin R ALPHA TARGETS

ADAPTER_DIR/adapter_config.json must hold the fields peft's LoraConfig.save_pretrained writes,
with r, lora_alpha, target_modules (TARGETS: comma-separated Hugging Face module names such as
q_proj,v_proj) and base_model_name_or_path (BASE.bin as given). ADAPTER_DIR/
adapter_model.safetensors, parsed by hand, must hold exactly lora_A [r][in] and lora_B [out][r]
in F32 for every target of every layer of BASE.bin (a llama2.c checkpoint), and MERGED.bin, the
run's model with the adapters folded in, must be BASE.bin plus (alpha / r) B A on every target
and byte for byte BASE.bin elsewhere. Exits 1 with the first difference."""
import json
import struct
import sys

MODULES = {  # Hugging Face module -> (llama2.c tensor, rows, cols) from the sizes
    "q_proj": ("wq", "qd", "dim"),
    "k_proj": ("wk", "kvd", "dim"),
    "v_proj": ("wv", "kvd", "dim"),
    "o_proj": ("wo", "dim", "qd"),
    "gate_proj": ("w1", "hidden", "dim"),
    "down_proj": ("w2", "dim", "hidden"),
    "up_proj": ("w3", "hidden", "dim"),
}
PREFIX = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
          "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def llama2c(path):
    """The sizes and the per-layer tensor offsets (in floats after the header) of a checkpoint."""
    data = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, _ = struct.unpack("<7i", data[:28])
    vocab = abs(vocab)
    sizes = {"dim": dim, "hidden": hidden, "qd": dim, "kvd": dim // heads * kv_heads}
    order = [("tok", vocab * dim, 1), ("rms_att", dim, layers), ("wq", dim * dim, layers),
             ("wk", sizes["kvd"] * dim, layers), ("wv", sizes["kvd"] * dim, layers),
             ("wo", dim * dim, layers), ("rms_ffn", dim, layers), ("w1", hidden * dim, layers),
             ("w2", dim * hidden, layers), ("w3", hidden * dim, layers)]
    offsets, at = {}, 0
    for name, floats, count in order:
        offsets[name] = (at, floats)
        at += floats * count
    return data, sizes, layers, offsets


def floats(data, first, n):
    return struct.unpack_from("<%df" % n, data, 28 + 4 * first)


def strip_trailer(data):
    return data[:-16] if data[-16:-8] == b"vkqxxh64" else data


def safetensors(path):
    raw = open(path, "rb").read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    header.pop("__metadata__", None)
    body = raw[8 + length:]
    ends = sorted(t["data_offsets"] for t in header.values())
    at = 0
    for begin, end in ends:
        if begin != at:
            fail("%s: the tensors do not cover the data section contiguously" % path)
        at = end
    if at != len(body):
        fail("%s: %d bytes of data, the tensors cover %d" % (path, len(body), at))
    return header, body


def check_config(config, base, r, alpha, targets):
    want = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha,
            "base_model_name_or_path": base, "bias": "none", "fan_in_fan_out": False,
            "inference_mode": True, "use_rslora": False, "use_dora": False,
            "modules_to_save": None, "init_lora_weights": True, "layers_to_transform": None,
            "layers_pattern": None, "rank_pattern": {}, "alpha_pattern": {}, "revision": None}
    for key, value in want.items():
        if key not in config or config[key] != value:
            fail("adapter_config.json: %s is %r, expected %r" % (key, config.get(key), value))
    if sorted(config.get("target_modules", [])) != sorted(targets):
        fail("adapter_config.json: target_modules %r, expected %r"
             % (config.get("target_modules"), targets))
    if not 0 <= config.get("lora_dropout", -1) < 1:
        fail("adapter_config.json: lora_dropout missing or out of range")


def main():
    if len(sys.argv) != 7:
        fail(__doc__)
    adapter, base_path, merged_path = sys.argv[1:4]
    r, alpha, targets = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6].split(",")
    check_config(json.load(open(adapter + "/adapter_config.json")), base_path, r, alpha, targets)
    header, body = safetensors(adapter + "/adapter_model.safetensors")
    base, sizes, layers, offsets = llama2c(base_path)
    merged = open(merged_path, "rb").read()
    if len(merged) != len(base):
        fail("%s and %s differ in size" % (merged_path, base_path))
    expected, changed = set(), set()
    scale = alpha / r
    for module in targets:
        tensor, rows_key, cols_key = MODULES[module]
        rows, cols = sizes[rows_key], sizes[cols_key]
        for layer in range(layers):
            name = "base_model.model.model.layers.%d.%s.%s.lora_%%s.weight" % (
                layer, PREFIX[module], module)
            mats = {}
            for which, shape in (("A", [r, cols]), ("B", [rows, r])):
                t = header.get(name % which)
                if t is None:
                    fail("adapter_model.safetensors lacks " + name % which)
                if t["dtype"] != "F32" or t["shape"] != shape:
                    fail("%s is %s %r, expected F32 %r" % (name % which, t["dtype"], t["shape"],
                                                           shape))
                begin, end = t["data_offsets"]
                mats[which] = struct.unpack("<%df" % ((end - begin) // 4), body[begin:end])
                expected.add(name % which)
            first = offsets[tensor][0] + layer * offsets[tensor][1]
            w = floats(base, first, rows * cols)
            got = floats(merged, first, rows * cols)
            a, b = mats["A"], mats["B"]
            for i in range(rows):
                for j in range(cols):
                    delta = scale * sum(b[i * r + k] * a[k * cols + j] for k in range(r))
                    want = w[i * cols + j] + delta
                    if abs(got[i * cols + j] - want) > 1e-6 * (1 + abs(want)):
                        fail("%s layer %d [%d][%d]: merged %.9g, base + (alpha/r) B A %.9g"
                             % (module, layer, i, j, got[i * cols + j], want))
            changed.add((first, rows * cols))
    if set(header) != expected:
        fail("unexpected tensors: %s" % sorted(set(header) - expected)[:3])
    at = 28
    for first, n in sorted(changed):
        if merged[at:28 + 4 * first] != base[at:28 + 4 * first]:
            fail("the merged model differs from the base outside the adapted weights")
        at = 28 + 4 * (first + n)
    # the rest, without vkquill's checksum trailer ("vkqxxh64" and 8 bytes), which differs
    if strip_trailer(merged)[at:] != strip_trailer(base)[at:]:
        fail("the merged model differs from the base outside the adapted weights")
    print("ok: %s: %d tensors, config as peft writes it, merged model = base + (alpha/r) B A"
          % (adapter, len(expected)))


main()
