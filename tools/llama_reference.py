#!/usr/bin/python3
"""A small, readable PyTorch reference of the llama2.c model and tokenizer.

This is a developer tool: it is the independent implementation that vkquill's C code is
checked against (see tools/make_golden.py and tools/make_generation_expected.py). vkquill
itself never depends on PyTorch; the outputs of these tools are committed and the C tests
read them.

Contents
  Config, read_checkpoint, write_checkpoint   llama2.c .bin files (legacy version-0 layout)
  Llama                                       the transformer, forward over a packed batch
                                              (several sequences concatenated) or a
                                              rectangular batch
  Tokenizer                                   llama2.c tok.bin, encode/decode as run.c does

Conventions (the same as llama2.c):
  - every matrix is stored (out, in) and applied as y = W @ x;
  - RMSNorm: x * rsqrt(mean(x^2) + 1e-5) * w;
  - RoPE (theta 10000) rotates CONSECUTIVE pairs (x[2i], x[2i+1]) of each head by the angle
    pos * theta^(-2i/head_size) -- not the half-split layout of Hugging Face checkpoints;
  - grouped-query attention: query head h reads key/value head h // (n_heads // n_kv_heads);
  - SwiGLU feed-forward w2(silu(w1 x) * (w3 x)); the classifier is tok_emb when shared.
"""

import dataclasses
import math
import re
import struct

import numpy as np
import torch

RMS_EPS = 1e-5
ROPE_THETA = 10000.0

BOS_ID = 1
EOS_ID = 2

# Parameter names in llama2.c file order. The two legacy RoPE tables sit between rms_final
# and wcls in the file, but they are not parameters (they are recomputed), so they are not
# listed here. wcls exists only when the classifier is not shared with tok_emb.
PARAM_NAMES = ("tok_emb", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn",
               "w1", "w2", "w3", "rms_final", "wcls")


# ----------------------------------------------------------------------------------------
# Configuration and checkpoint files


@dataclasses.dataclass(frozen=True)
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int          # always positive here; the file stores -vocab_size if unshared
    seq_len: int
    shared_classifier: bool = True

    @property
    def head_size(self):
        return self.dim // self.n_heads

    @property
    def kv_dim(self):
        return self.n_kv_heads * self.head_size

    def validate(self):
        fields = (self.dim, self.hidden_dim, self.n_layers, self.n_heads, self.n_kv_heads,
                  self.vocab_size, self.seq_len)
        if min(fields) <= 0:
            raise ValueError(f"config fields must be positive: {self}")
        if self.dim % self.n_heads or self.head_size % 2:
            raise ValueError(f"dim must split into heads of even size: {self}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads must be a multiple of n_kv_heads: {self}")

    def param_shapes(self):
        """(name, shape) of every parameter, in llama2.c file order."""
        D, H, L, V, KV = self.dim, self.hidden_dim, self.n_layers, self.vocab_size, self.kv_dim
        shapes = [
            ("tok_emb", (V, D)),
            ("rms_att", (L, D)),
            ("wq", (L, D, D)),
            ("wk", (L, KV, D)),
            ("wv", (L, KV, D)),
            ("wo", (L, D, D)),
            ("rms_ffn", (L, D)),
            ("w1", (L, H, D)),
            ("w2", (L, D, H)),
            ("w3", (L, H, D)),
            ("rms_final", (D,)),
        ]
        if not self.shared_classifier:
            shapes.append(("wcls", (V, D)))
        return shapes

    def n_params(self):
        return sum(math.prod(shape) for _, shape in self.param_shapes())


HEADER = struct.Struct("<7i")


def rope_tables(cfg):
    """The two legacy tables llama2.c files carry: cos and sin of pos * theta^(-2i/hs),
    each [seq_len][head_size/2]."""
    i2 = np.arange(0, cfg.head_size, 2, dtype=np.float64)
    freqs = ROPE_THETA ** (-i2 / cfg.head_size)
    angles = np.arange(cfg.seq_len, dtype=np.float64)[:, None] * freqs[None, :]
    return np.cos(angles), np.sin(angles)


TRAILER_MAGIC = b"vkqxxh64"
TRAILER_BYTES = 16


def read_checkpoint(path):
    """Read a llama2.c (legacy version-0) checkpoint. Returns (Config, {name: float32 array}).
    The RoPE tables are skipped; the file must be exactly as long as its header says, plus
    vkquill's 16-byte checksum trailer ("vkqxxh64" and an XXH64) where vkquill wrote it."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) >= HEADER.size + TRAILER_BYTES and data[-TRAILER_BYTES:-8] == TRAILER_MAGIC:
        data = data[:-TRAILER_BYTES]
    if len(data) < HEADER.size:
        raise ValueError(f"{path}: {len(data)} bytes is shorter than the 28-byte header")
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = HEADER.unpack_from(data, 0)
    cfg = Config(dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len,
                 shared_classifier=vocab > 0)
    cfg.validate()

    floats = np.frombuffer(data, dtype="<f4", offset=HEADER.size)
    rope_floats = cfg.seq_len * cfg.head_size  # two tables of seq_len * head_size/2
    expected = cfg.n_params() + rope_floats
    if (len(data) - HEADER.size) != 4 * expected:
        raise ValueError(f"{path}: expected {HEADER.size + 4 * expected} bytes for {cfg}, "
                         f"found {len(data)}")

    weights, at = {}, 0
    for name, shape in cfg.param_shapes():
        if name == "wcls":
            at += rope_floats  # skip freq_cis_real and freq_cis_imag
        n = math.prod(shape)
        weights[name] = floats[at:at + n].reshape(shape).astype(np.float32)
        at += n
    return cfg, weights


def write_checkpoint(path, cfg, weights):
    """Write a llama2.c (legacy version-0) checkpoint from {name: array}; arrays are stored
    as float32. The RoPE tables are written as llama2.c's export did (cos, then sin)."""
    cfg.validate()
    vocab_field = cfg.vocab_size if cfg.shared_classifier else -cfg.vocab_size
    with open(path, "wb") as f:
        f.write(HEADER.pack(cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads,
                            cfg.n_kv_heads, vocab_field, cfg.seq_len))
        for name, shape in cfg.param_shapes():
            if name == "wcls":
                for table in rope_tables(cfg):
                    f.write(table.astype("<f4").tobytes())
            w = np.asarray(weights[name])
            if w.shape != shape:
                raise ValueError(f"{name}: shape {w.shape}, expected {shape}")
            f.write(w.astype("<f4").tobytes())
        if cfg.shared_classifier:
            for table in rope_tables(cfg):
                f.write(table.astype("<f4").tobytes())


# ----------------------------------------------------------------------------------------
# The model


def rmsnorm(x, weight):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + RMS_EPS) * weight


def rope_cos_sin(positions, head_size, dtype):
    """cos and sin of pos * theta^(-2i/head_size), shape positions.shape + (head_size/2,).
    The angles are formed in float64 and then rounded to the compute dtype."""
    i2 = torch.arange(0, head_size, 2, dtype=torch.float64)
    freqs = ROPE_THETA ** (-i2 / head_size)
    angles = positions.to(torch.float64)[..., None] * freqs
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def apply_rope(x, cos, sin):
    """Rotate the consecutive pairs (x[2i], x[2i+1]) of the last axis.
    x: [B, S, heads, head_size]; cos, sin: [B, S, head_size/2]."""
    pairs = x.unflatten(-1, (-1, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    c, s = cos[:, :, None, :], sin[:, :, None, :]  # broadcast over heads
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


def packed_positions_and_mask(offsets, device=None):
    """For a packed batch with offsets [0, len0, len0+len1, ..., T]: the position of every
    token within its own sequence, and the [T, T] boolean mask (True = may attend) that is
    causal inside each sequence and blocks attention across sequences."""
    offsets = [int(o) for o in offsets]
    if offsets[0] != 0 or any(b <= a for a, b in zip(offsets, offsets[1:])):
        raise ValueError(f"offsets must start at 0 and strictly increase: {offsets}")
    lengths = [b - a for a, b in zip(offsets, offsets[1:])]
    positions = torch.cat([torch.arange(n) for n in lengths]).to(device)
    seq_id = torch.cat([torch.full((n,), s) for s, n in enumerate(lengths)]).to(device)
    T = offsets[-1]
    idx = torch.arange(T, device=device)
    same_seq = seq_id[:, None] == seq_id[None, :]
    causal = idx[None, :] <= idx[:, None]  # key index <= query index
    return positions, same_seq & causal


class Llama(torch.nn.Module):
    """The llama2.c transformer. Parameters are registered in file order, so
    .parameters() and flat_params() follow tok_emb, rms_att, wq, ..., rms_final(, wcls)."""

    def __init__(self, cfg, dtype=torch.float32):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        for name, shape in cfg.param_shapes():
            self.register_parameter(name, torch.nn.Parameter(torch.zeros(shape, dtype=dtype)))

    @classmethod
    def from_weights(cls, cfg, weights, dtype=torch.float32):
        model = cls(cfg, dtype)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.as_tensor(np.asarray(weights[name])).to(dtype))
        return model

    @classmethod
    def from_checkpoint(cls, path, dtype=torch.float32):
        cfg, weights = read_checkpoint(path)
        return cls.from_weights(cfg, weights, dtype)

    def weights(self):
        """{name: float32 numpy array}, for write_checkpoint."""
        return {name: p.detach().cpu().float().numpy() for name, p in self.named_parameters()}

    def flat_params(self):
        return torch.cat([p.detach().reshape(-1) for p in self.parameters()])

    def flat_grads(self):
        return torch.cat([p.grad.reshape(-1) for p in self.parameters()])

    def classifier(self):
        return self.tok_emb if self.cfg.shared_classifier else self.wcls

    # -- the transformer itself --------------------------------------------------------

    def attention(self, layer, x, cos, sin, bias):
        """One attention block (without the residual add). x: [B, S, D] (already normed);
        bias: [B or 1, S, S], 0 where query s may attend to key t and -inf elsewhere."""
        cfg = self.cfg
        B, S, _ = x.shape
        hs, kvh = cfg.head_size, cfg.n_kv_heads
        group = cfg.n_heads // kvh  # query heads per key/value head

        q = (x @ self.wq[layer].T).view(B, S, cfg.n_heads, hs)
        k = (x @ self.wk[layer].T).view(B, S, kvh, hs)
        v = (x @ self.wv[layer].T).view(B, S, kvh, hs)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)

        # Grouped-query attention: query head h = kv * group + g uses key/value head kv,
        # i.e. h // group. Arrange q as [B, kv, g, S, hs] and let k, v broadcast over g.
        q = q.view(B, S, kvh, group, hs).permute(0, 2, 3, 1, 4)
        k = k.permute(0, 2, 1, 3)[:, :, None]  # [B, kv, 1, S, hs]
        v = v.permute(0, 2, 1, 3)[:, :, None]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hs) + bias[:, None, None]
        out = torch.softmax(scores, dim=-1) @ v  # [B, kv, g, S, hs]
        out = out.permute(0, 3, 1, 2, 4).reshape(B, S, cfg.dim)  # heads back in order h
        return out @ self.wo[layer].T

    def feed_forward(self, layer, x):
        gate = torch.nn.functional.silu(x @ self.w1[layer].T)
        return (gate * (x @ self.w3[layer].T)) @ self.w2[layer].T

    def hidden(self, tokens, positions, mask):
        """Final-normed hidden states [B, S, D] for tokens [B, S], positions [B, S] and the
        attention mask [B or 1, S, S] (True = may attend)."""
        x = self.tok_emb[tokens]
        cos, sin = rope_cos_sin(positions, self.cfg.head_size, x.dtype)
        # The mask as an additive bias, made once for all layers: adding 0 leaves a score
        # exactly as it was, adding -inf gives it softmax weight exactly 0.
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~mask, float("-inf"))
        for layer in range(self.cfg.n_layers):
            x = x + self.attention(layer, rmsnorm(x, self.rms_att[layer]), cos, sin, bias)
            x = x + self.feed_forward(layer, rmsnorm(x, self.rms_ffn[layer]))
        return rmsnorm(x, self.rms_final)

    def forward_packed(self, tokens, offsets, rows=None):
        """Logits over a packed batch: tokens [T] holds several sequences back to back,
        offsets [0, len0, len0+len1, ..., T] marks them. Positions restart at 0 in every
        sequence and attention never crosses a boundary. With rows (token indices), only
        those rows' logits are computed: [R, V]; otherwise [T, V]."""
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        if int(offsets[-1]) != tokens.numel():
            raise ValueError(f"offsets end at {int(offsets[-1])}, tokens has {tokens.numel()}")
        positions, mask = packed_positions_and_mask(offsets, tokens.device)
        h = self.hidden(tokens[None], positions[None], mask[None])[0]
        if rows is not None:
            h = h[torch.as_tensor(rows, dtype=torch.long)]
        return h @ self.classifier().T

    def forward_batched(self, tokens):
        """Logits [B, S, V] for a rectangular batch tokens [B, S], every row a sequence that
        starts at position 0, with a plain causal mask."""
        B, S = tokens.shape
        positions = torch.arange(S, device=tokens.device).expand(B, S)
        causal = torch.ones(S, S, dtype=torch.bool, device=tokens.device).tril()
        return self.hidden(tokens, positions, causal[None]) @ self.classifier().T


# ----------------------------------------------------------------------------------------
# The tokenizer

BYTE_PIECE = re.compile(rb"<0x([0-9A-Fa-f]{2})>")


class Tokenizer:
    """llama2.c tok.bin: int32 max_token_length, then per token float32 score, int32 length
    and the piece's bytes. Pieces are kept as bytes. Ids 0, 1, 2 are <unk>, BOS, EOS and
    3..258 are the byte-fallback pieces <0x00>..<0xFF>."""

    def __init__(self, path, vocab_size=None):
        with open(path, "rb") as f:
            data = f.read()
        (self.max_token_length,) = struct.unpack_from("<i", data, 0)
        self.pieces, self.scores, at = [], [], 4
        while at < len(data) and (vocab_size is None or len(self.pieces) < vocab_size):
            score, n = struct.unpack_from("<fi", data, at)
            at += 8
            if n < 0 or at + n > len(data):
                raise ValueError(f"{path}: bad piece length {n} for token {len(self.pieces)}")
            self.pieces.append(data[at:at + n])
            self.scores.append(score)
            at += n
        if vocab_size is not None and len(self.pieces) != vocab_size:
            raise ValueError(f"{path}: {len(self.pieces)} tokens, expected {vocab_size}")
        # run.c finds a string with a binary search over the sorted vocabulary; for a
        # vocabulary without duplicate pieces that is a plain dictionary lookup. (For
        # duplicates we keep the lowest id; bsearch's choice would be unspecified.)
        self.lookup = {}
        for i, piece in enumerate(self.pieces):
            self.lookup.setdefault(piece, i)

    @property
    def vocab_size(self):
        return len(self.pieces)

    def encode(self, text, bos=True, eos=False):
        """run.c's encode(): optional BOS, a dummy-prefix " " token when the text is not
        empty, one token per UTF-8 codepoint (byte fallback id = byte + 3 when the
        codepoint is not a piece), then greedy merges: repeatedly replace the adjacent
        pair whose concatenation is the best-scoring piece (first such pair on ties)."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        tokens = [BOS_ID] if bos else []
        if raw:
            tokens.append(self.lookup[b" "])

        # Split into codepoints the way run.c does: a codepoint is a non-continuation
        # byte followed by up to three continuation bytes (10xxxxxx); stray continuation
        # bytes stand alone.
        i = 0
        while i < len(raw):
            j = i + 1
            while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            codepoint = raw[i:j]
            if codepoint in self.lookup:
                tokens.append(self.lookup[codepoint])
            else:
                tokens.extend(b + 3 for b in codepoint)
            i = j

        # Merge, best score first. run.c starts from best_score = -1e10 and requires a
        # strictly greater score, so the first of equally good pairs wins. Like run.c, the
        # BOS token takes part in the pair search (no piece starts with its text in practice).
        while True:
            best_score, best_id, best_at = -1e10, -1, -1
            for k in range(len(tokens) - 1):
                merged = self.lookup.get(self.pieces[tokens[k]] + self.pieces[tokens[k + 1]])
                if merged is not None and self.scores[merged] > best_score:
                    best_score, best_id, best_at = self.scores[merged], merged, k
            if best_at < 0:
                break
            tokens[best_at:best_at + 2] = [best_id]

        if eos:
            tokens.append(EOS_ID)
        return tokens

    def decode(self, prev_token, token):
        """run.c's decode(): the bytes that token prints after prev_token. A piece that
        follows BOS loses its leading space; a <0xXX> piece is the raw byte XX."""
        piece = self.pieces[token]
        if prev_token == BOS_ID and piece.startswith(b" "):
            piece = piece[1:]
        m = BYTE_PIECE.fullmatch(piece)
        if m:
            return bytes([int(m.group(1), 16)])
        return piece
