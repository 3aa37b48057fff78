// Writes tests/data/gguf_expected.json: for every export case, the GGUF header, key-value
// pairs and tensor infos that llama.cpp's converter gives the model, worked out here from
// config.json, the safetensors header and the tokenizer files by its rules, and checked
// against what Hugging Face's GGUF parser (@huggingface/gguf) reads from the file vkquill
// writes. Any difference fails. CI only reads the JSON.
//   cd tools && npm install && node check_gguf.mjs [path/to/vkquill]
import { gguf } from "@huggingface/gguf";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vkquill = process.argv[2] ?? join(root, "build", "vkquill");
const T = { U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };
const GGML = { f32: 0, f16: 1, bf16: 30 };
const FILE_TYPE = { f32: 0, f16: 1, bf16: 32 };

// name, golden directory, tokenizer fixture, --type (null: the weights' own)
const CASES = [
  ["llama3", "llama3", "llama3", null], ["llama3_bf16", "llama3_bf16", "llama3", null],
  ["llama3_f16", "llama3", "llama3", "f16"], ["qwen2", "qwen2", "qwen", null],
  ["qwen2_bf16", "qwen2_bf16", "qwen", null], ["qwen2_f16", "qwen2", "qwen", "f16"],
  ["qwen3", "qwen3", "qwen", null], ["qwen3_bf16", "qwen3_bf16", "qwen", null],
  ["qwen3_bf16_f32", "qwen3_bf16", "qwen", "f32"], ["mistral", "mistral", "spm", null],
  ["mistral_bf16", "mistral_bf16", "spm", null], ["mistral_f16", "mistral", "spm", "f16"],
];

const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

function safetensorsShapes(path) {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
  delete header.__metadata__;
  return Object.fromEntries(Object.entries(header).map(([k, v]) => [k, v.shape]));
}

// The model's hyperparameters with transformers' defaults.
function hparams(c) {
  const heads = c.num_attention_heads;
  return {
    arch: { llama: "llama", mistral: "llama", qwen2: "qwen2", qwen3: "qwen3" }[c.model_type],
    heads, kvHeads: c.num_key_value_heads ?? heads,
    headDim: c.head_dim ?? (c.model_type === "qwen3" ? 128 : c.hidden_size / heads),
    eps: c.rms_norm_eps ?? 1e-6, theta: c.rope_theta ?? 10000,
    dtype: { float32: "f32", bfloat16: "bf16", float16: "f16" }[c.torch_dtype ?? "float32"],
  };
}

const f32 = (x) => Math.fround(x);
const kv = (key, type, value, subType) => ({ key, type, value, ...(subType !== undefined && { subType }) });

function archKvs(c, h, name, type) {
  const a = h.arch;
  return [
    kv("general.architecture", T.STRING, a), kv("general.name", T.STRING, name),
    kv("general.alignment", T.U32, 32), kv("general.file_type", T.U32, FILE_TYPE[type]),
    kv(`${a}.vocab_size`, T.U32, c.vocab_size),
    kv(`${a}.context_length`, T.U32, c.max_position_embeddings),
    kv(`${a}.embedding_length`, T.U32, c.hidden_size),
    kv(`${a}.block_count`, T.U32, c.num_hidden_layers),
    kv(`${a}.feed_forward_length`, T.U32, c.intermediate_size),
    kv(`${a}.attention.head_count`, T.U32, h.heads),
    kv(`${a}.attention.head_count_kv`, T.U32, h.kvHeads),
    kv(`${a}.attention.key_length`, T.U32, h.headDim),
    kv(`${a}.attention.value_length`, T.U32, h.headDim),
    kv(`${a}.attention.layer_norm_rms_epsilon`, T.F32, f32(h.eps)),
    kv(`${a}.rope.freq_base`, T.F32, f32(h.theta)),
    kv(`${a}.rope.dimension_count`, T.U32, h.headDim),
  ];
}

// The tokenizer as convert_hf_to_gguf.py writes it (get_vocab_base and SpecialVocab for
// byte-level BPE; LlamaHfVocab-style types for SentencePiece-style BPE).
function tokenizerKvs(tok, cfg, c) {
  const n = c.vocab_size;
  const byteLevel = !tok.model.byte_fallback;
  const pieces = new Array(n).fill(null), added = new Map();
  for (const [p, id] of Object.entries(tok.model.vocab)) pieces[id] = p;
  for (const a of tok.added_tokens) { pieces[a.id] = a.content; added.set(a.id, a); }
  const contentId = (key) => {
    const e = cfg[key];
    const content = typeof e === "string" ? e : e?.content;
    const hit = tok.added_tokens.find((a) => a.content === content);
    return hit ? hit.id : null;
  };
  let bos = contentId("bos_token"), eos = contentId("eos_token");
  let unk = contentId("unk_token"), pad = contentId("pad_token");
  bos ??= c.bos_token_id ?? null;
  eos ??= Array.isArray(c.eos_token_id) ? c.eos_token_id[0] : c.eos_token_id ?? null;
  pad ??= c.pad_token_id ?? null;
  if (unk === null && tok.model.unk_token) unk = pieces.indexOf(tok.model.unk_token);
  const types = pieces.map((p, id) => {
    if (p === null) return 5;
    if (!byteLevel && id === unk) return 2;
    const a = added.get(id);
    if (a && (a.special || (p.startsWith("<|") && p.endsWith("|>")))) return 3;
    if (!byteLevel && /^<0x[0-9A-Fa-f]{2}>$/.test(p)) return 6;
    return a ? 4 : 1;
  });
  const tokens = pieces.map((p, id) =>
    p === null ? `[PAD${id}]` : types[id] === 4 ? p.replaceAll("\u2581", " ") : p);
  const out = [];
  if (byteLevel) {
    const regex = tok.pre_tokenizer.pretokenizers[0].pattern.Regex;
    const pre = regex.includes("\\p{N}{1,3}") ? "llama-bpe" : "qwen2";
    const merges = tok.model.merges.map((m) =>
      typeof m === "string" ? m : m.map((s) => s.replaceAll(" ", "\u0120")).join(" "));
    out.push(kv("tokenizer.ggml.model", T.STRING, "gpt2"), kv("tokenizer.ggml.pre", T.STRING, pre),
      kv("tokenizer.ggml.tokens", T.ARRAY, tokens, T.STRING),
      kv("tokenizer.ggml.token_type", T.ARRAY, types, T.I32),
      kv("tokenizer.ggml.merges", T.ARRAY, merges, T.STRING));
  } else {
    // Each piece scores minus the rank of the first merge making it; pieces no merge makes
    // score minus the merge count; added tokens and gaps score 0.
    const merges = tok.model.merges.map((m) => (typeof m === "string" ? m.split(" ") : m));
    const scores = pieces.map((p, id) => (p === null || added.has(id) ? 0 : -merges.length));
    merges.forEach(([a, b], rank) => {
      const id = tok.model.vocab[a + b];
      if (id !== undefined && scores[id] === -merges.length) scores[id] = -rank;
    });
    out.push(kv("tokenizer.ggml.model", T.STRING, "llama"), kv("tokenizer.ggml.pre", T.STRING, "default"),
      kv("tokenizer.ggml.tokens", T.ARRAY, tokens, T.STRING),
      kv("tokenizer.ggml.token_type", T.ARRAY, types, T.I32),
      kv("tokenizer.ggml.scores", T.ARRAY, scores.map(f32), T.F32),
      kv("tokenizer.ggml.add_space_prefix", T.BOOL,
        tok.normalizer.normalizers.some((x) => x.type === "Prepend" && x.prepend === "\u2581")));
  }
  const ids = [["bos", bos], ["eos", eos], ["unknown", unk], ["padding", pad]];
  for (const [k, id] of ids) if (id !== null && id >= 0) out.push(kv(`tokenizer.ggml.${k}_token_id`, T.U32, id));
  let addBos = null, addEos = null;
  const single = tok.post_processor?.type === "TemplateProcessing" ? tok.post_processor.single : [];
  if (single.length > 1) {
    const first = single[0].SpecialToken?.id, last = single.at(-1).SpecialToken?.id;
    if (first) addBos = first === pieces[bos];
    if (last) addEos = last === pieces[eos];
  }
  if (typeof cfg.add_bos_token === "boolean") addBos = cfg.add_bos_token;
  if (typeof cfg.add_eos_token === "boolean") addEos = cfg.add_eos_token;
  if (addBos !== null) out.push(kv("tokenizer.ggml.add_bos_token", T.BOOL, addBos));
  if (addEos !== null) out.push(kv("tokenizer.ggml.add_eos_token", T.BOOL, addEos));
  if (cfg.chat_template) out.push(kv("tokenizer.chat_template", T.STRING, cfg.chat_template));
  return out;
}

// Tensor infos: llama.cpp's names, ggml dims (PyTorch's reversed), matrices in `type`, vectors
// in F32, offsets aligned to 32.
function tensorInfos(c, h, shapes, type) {
  const list = [];
  if (c.rope_scaling?.rope_type === "llama3") list.push(["rope_freqs.weight", [h.headDim / 2]]);
  const add = (gg, hf) => { if (shapes[hf]) list.push([gg, [...shapes[hf]].reverse()]); };
  add("token_embd.weight", "model.embed_tokens.weight");
  const parts = [["attn_norm.weight", "input_layernorm.weight"], ["attn_q.weight", "self_attn.q_proj.weight"],
    ["attn_k.weight", "self_attn.k_proj.weight"], ["attn_v.weight", "self_attn.v_proj.weight"],
    ["attn_q.bias", "self_attn.q_proj.bias"], ["attn_k.bias", "self_attn.k_proj.bias"],
    ["attn_v.bias", "self_attn.v_proj.bias"], ["attn_q_norm.weight", "self_attn.q_norm.weight"],
    ["attn_k_norm.weight", "self_attn.k_norm.weight"], ["attn_output.weight", "self_attn.o_proj.weight"],
    ["ffn_norm.weight", "post_attention_layernorm.weight"], ["ffn_gate.weight", "mlp.gate_proj.weight"],
    ["ffn_up.weight", "mlp.up_proj.weight"], ["ffn_down.weight", "mlp.down_proj.weight"]];
  for (let l = 0; l < c.num_hidden_layers; l++)
    for (const [gg, hf] of parts) add(`blk.${l}.${gg}`, `model.layers.${l}.${hf}`);
  add("output_norm.weight", "model.norm.weight");
  if (!c.tie_word_embeddings) add("output.weight", "lm_head.weight");
  let offset = 0;
  return list.map(([name, dims]) => {
    const t = dims.length === 1 ? "f32" : type;
    const info = { name, dims, type: GGML[t], offset };
    offset += Math.ceil((dims.reduce((a, b) => a * b, 1) * (t === "f32" ? 4 : 2)) / 32) * 32;
    return info;
  });
}

const plain = (v) => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map(plain) : v);

function compare(name, expected, parsed) {
  const got = Object.entries(parsed.typedMetadata)
    .filter(([k]) => !["version", "tensor_count", "kv_count"].includes(k))
    .map(([key, v]) => kv(key, v.type, plain(v.value), v.subType));
  const want = JSON.stringify(expected.kv), have = JSON.stringify(got);
  if (want !== have) throw new Error(`${name}: metadata differs\nwant ${want.slice(0, 2000)}\nhave ${have.slice(0, 2000)}`);
  const tensors = parsed.tensorInfos.map((t) => ({ name: t.name, dims: plain(t.shape), type: t.dtype, offset: plain(t.offset) }));
  if (JSON.stringify(tensors) !== JSON.stringify(expected.tensors))
    throw new Error(`${name}: tensor infos differ\nwant ${JSON.stringify(expected.tensors)}\nhave ${JSON.stringify(tensors)}`);
  const header = { version: plain(parsed.metadata.version), tensor_count: plain(parsed.metadata.tensor_count), kv_count: plain(parsed.metadata.kv_count) };
  if (JSON.stringify(header) !== JSON.stringify(expected.header)) throw new Error(`${name}: header differs`);
  if (parsed.tensorDataOffset % 32n !== 0n) throw new Error(`${name}: tensor data not aligned`);
}

const work = mkdtempSync(join(tmpdir(), "check-gguf-"));
const out = { generator: "tools/check_gguf.mjs (@huggingface/gguf 0.4.6)", cases: [] };
try {
  for (const [name, golden, fixture, type] of CASES) {
    const dir = join(work, name);
    mkdirSync(dir);
    for (const [from, file] of [[join(root, "tests/golden/hf", golden), "config.json"],
      [join(root, "tests/golden/hf", golden), "model.safetensors"],
      [join(root, "tests/data/gguf", fixture), "tokenizer.json"],
      [join(root, "tests/data/gguf", fixture), "tokenizer_config.json"]])
      copyFileSync(join(from, file), join(dir, file));
    const c = readJson(join(dir, "config.json")), h = hparams(c);
    const outType = type ?? h.dtype;
    const kvs = [...archKvs(c, h, name, outType),
      ...tokenizerKvs(readJson(join(dir, "tokenizer.json")), readJson(join(dir, "tokenizer_config.json")), c)];
    const tensors = tensorInfos(c, h, safetensorsShapes(join(dir, "model.safetensors")), outType);
    const expected = { name, golden, tokenizer: fixture, type, header: { version: 3, tensor_count: tensors.length, kv_count: kvs.length }, kv: kvs, tensors };
    const file = join(work, `${name}.gguf`);
    execFileSync(vkquill, ["export", "gguf", "--model", dir, "--out", file, ...(type ? ["--type", type] : [])]);
    compare(name, expected, await gguf(file, { allowLocalFile: true, typedMetadata: true }));
    out.cases.push(expected);
    console.log(`${name}: ${kvs.length} pairs and ${tensors.length} tensor infos agree`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(join(root, "tests/data/gguf_expected.json"), JSON.stringify(out, null, 1) + "\n");
