// Writes tests/data/tokenizer_expected.json: the token ids Hugging Face's tokenizers.js gives
// for every line of tests/data/tokenizer_corpus.jsonl with each real tokenizer in
// ../shared/tokenizers (add_special_tokens false), and the text decoding must give back
// (the line itself, or its NFC form for a tokenizer that normalizes to NFC).
//
//   cd tools && npm install && node make_tokenizer_expected.mjs
//
// CI only reads the file this writes; vkquill never runs this.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const shared = join(root, "..", "shared", "tokenizers");
const corpusPath = join(root, "tests", "data", "tokenizer_corpus.jsonl");
const outPath = join(root, "tests", "data", "tokenizer_expected.json");
const names = ["qwen3", "llama3", "llama2"];

const corpus = readFileSync(corpusPath, "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line).text);

function normalizerTypes(node) {
  if (!node) return [];
  if (node.type === "Sequence") return node.normalizers.flatMap(normalizerTypes);
  return [node.type];
}

const result = {
  generator: "tools/make_tokenizer_expected.mjs with @huggingface/tokenizers " +
    JSON.parse(readFileSync(join(root, "tools", "node_modules", "@huggingface", "tokenizers",
      "package.json"), "utf8")).version,
  corpus: "tests/data/tokenizer_corpus.jsonl",
  lines: corpus.length,
  tokenizers: {},
};

for (const name of names) {
  const json = JSON.parse(readFileSync(join(shared, name, "tokenizer.json"), "utf8"));
  const config = JSON.parse(readFileSync(join(shared, name, "tokenizer_config.json"), "utf8"));
  const tok = new Tokenizer(json, config);
  const nfc = normalizerTypes(json.normalizer).includes("NFC");
  result.tokenizers[name] = {
    ids: corpus.map((text) => tok.encode(text, { add_special_tokens: false }).ids),
    round_trip: corpus.map((text) => (nfc ? text.normalize("NFC") : text)),
  };
}

// One corpus line per output line keeps the file readable and its diffs small.
const lines = ["{"];
lines.push(`  "generator": ${JSON.stringify(result.generator)},`);
lines.push(`  "corpus": ${JSON.stringify(result.corpus)},`);
lines.push(`  "lines": ${result.lines},`);
lines.push(`  "tokenizers": {`);
names.forEach((name, n) => {
  const t = result.tokenizers[name];
  lines.push(`    ${JSON.stringify(name)}: {`);
  lines.push(`      "ids": [`);
  t.ids.forEach((ids, i) => lines.push(`        ${JSON.stringify(ids)}${i + 1 < t.ids.length ? "," : ""}`));
  lines.push(`      ],`);
  lines.push(`      "round_trip": [`);
  t.round_trip.forEach((s, i) =>
    lines.push(`        ${JSON.stringify(s)}${i + 1 < t.round_trip.length ? "," : ""}`));
  lines.push(`      ]`);
  lines.push(`    }${n + 1 < names.length ? "," : ""}`);
});
lines.push("  }");
lines.push("}");
writeFileSync(outPath, lines.join("\n") + "\n");
console.log(`wrote ${outPath}: ${corpus.length} lines x ${names.length} tokenizers`);
