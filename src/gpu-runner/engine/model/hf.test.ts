import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WeightTensor } from "./config.ts";
import { loadGguf } from "./gguf.ts";
import { HfModelError, hfLlamaConfig, loadHfFolder } from "./hf.ts";
import { referenceLogits, referenceNextTokenLogProbs } from "./reference-forward.ts";
import { writeSafetensors } from "./safetensors.ts";
import { HfTokenizer } from "./tokenizer-hf.ts";
import { ModelWeightsError } from "../util/loaded-model.ts";

const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const reference = JSON.parse(readFileSync(new URL("reference-outputs.json", dataDir), "utf8"));
const tok512 = JSON.parse(readFileSync(new URL("tok512.tokenizer.json", dataDir), "utf8"));
const gguf = await loadGguf(fileURLToPath(new URL("tinyllamas-stories-260k-f32.gguf", dataDir)));

/** A llama-style (SentencePiece BPE, byte fallback) tokenizer.json for the tok512 vocabulary, merges ranked by the
 *  score of the merged piece as HF's SentencePiece converter does. */
function tok512AsTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  tok512.tokens.forEach((t: string, i: number) => { if (!(t in vocab)) vocab[t] = i; });
  const merges: [string, string, number, number, number][] = [];
  tok512.tokens.forEach((piece: string, id: number) => {
    if (tok512.token_type[id] !== 1) return;
    const chars = [...piece];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join(""), r = chars.slice(k).join("");
      if (l in vocab && r in vocab && tok512.token_type[vocab[l]] === 1 && tok512.token_type[vocab[r]] === 1) merges.push([l, r, tok512.scores[id], vocab[l], vocab[r]]);
    }
  });
  merges.sort((a, b) => b[2] - a[2] || a[3] - b[3] || a[4] - b[4]);
  return {
    version: "1.0",
    added_tokens: [0, 1, 2].map((id) => ({ id, content: tok512.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: merges.map((m) => `${m[0]} ${m[1]}`) },
  };
}

/** Meta (interleaved) → HF (rotate-half) row permutation of a q/k projection, as transformers' converter does. */
function permuteForRotateHalf(t: WeightTensor, heads: number): WeightTensor {
  const [rows, cols] = t.shape;
  const headDim = rows / heads, half = headDim / 2;
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < headDim; i++) {
      const src = h * headDim + (i < half ? 2 * i : 2 * (i - half) + 1);
      out.set(t.data.subarray(src * cols, (src + 1) * cols), (h * headDim + i) * cols);
    }
  }
  return { shape: t.shape, data: out };
}

const HF_NAMES: Record<string, string> = {
  attn_norm: "input_layernorm.weight", wq: "self_attn.q_proj.weight", wk: "self_attn.k_proj.weight", wv: "self_attn.v_proj.weight",
  wo: "self_attn.o_proj.weight", ffn_norm: "post_attention_layernorm.weight", w_gate: "mlp.gate_proj.weight", w_up: "mlp.up_proj.weight",
  w_down: "mlp.down_proj.weight", bq: "self_attn.q_proj.bias", bk: "self_attn.k_proj.bias", bv: "self_attn.v_proj.bias",
};
function hfName(canonical: string): string {
  if (canonical === "tok_embeddings") return "model.embed_tokens.weight";
  if (canonical === "norm") return "model.norm.weight";
  if (canonical === "output") return "lm_head.weight";
  const m = /^layers\.(\d+)\.(.+)$/.exec(canonical)!;
  return `model.layers.${m[1]}.${HF_NAMES[m[2]]}`;
}

const tinyConfig = {
  architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 64, num_hidden_layers: 5, num_attention_heads: 8,
  num_key_value_heads: 4, intermediate_size: 172, rms_norm_eps: 1e-5, vocab_size: 512, max_position_embeddings: 512,
  tie_word_embeddings: true, rope_theta: 10000, bos_token_id: 1, eos_token_id: 2, rope_scaling: null,
};

/** Writes the tinyllamas weights as a sharded HF folder (Q/K permuted for rotate-half). */
function writeTinyHfFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const hf = new Map<string, WeightTensor>();
  for (const [name, t] of gguf.weights) {
    const m = /\.(wq|wk)$/.exec(name);
    hf.set(hfName(name), m ? permuteForRotateHalf(t, m[1] === "wq" ? 8 : 4) : t);
  }
  hf.set("model.layers.0.self_attn.rotary_emb.inv_freq", { shape: [4], data: new Float32Array(4) });
  const shard1 = [...hf].filter(([n]) => !n.startsWith("model.layers.3") && !n.startsWith("model.layers.4"));
  const shard2 = [...hf].filter(([n]) => n.startsWith("model.layers.3") || n.startsWith("model.layers.4"));
  const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
  writeFileSync(join(dir, files[0]), writeSafetensors(shard1, { metadata: { format: "pt" } }));
  writeFileSync(join(dir, files[1]), writeSafetensors(shard2, { metadata: { format: "pt" } }));
  const weightMap = Object.fromEntries([...shard1.map(([n]) => [n, files[0]]), ...shard2.map(([n]) => [n, files[1]])]);
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(join(dir, "config.json"), JSON.stringify(tinyConfig));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok512AsTokenizerJson()));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>", eos_token: "</s>" }));
}

const root = mkdtempSync(join(tmpdir(), "hf-test-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

test("HF tokenizer.json of the same vocabulary encodes and decodes exactly like run.c", () => {
  const tokenizer = new HfTokenizer(tok512AsTokenizerJson(), { bos_token: "<s>", eos_token: "</s>" });
  assert.equal(tokenizer.vocabSize, 512);
  assert.equal(tokenizer.bosId, 1);
  assert.equal(tokenizer.eosId, 2);
  assert.equal(tokenizer.digest, gguf.tokenizer.digest);
  for (const [text, ids] of Object.entries(reference.encode_cases as Record<string, number[]>)) assert.deepEqual(tokenizer.encode(text), ids, text);
  assert.deepEqual(tokenizer.encode("Hello world", { bos: false }), reference.encode_cases["Hello world"].slice(1));
  assert.equal(tokenizer.decode(reference.greedy_with_prompt.token_ids), reference.greedy_with_prompt.text);
  const ids = tokenizer.encode("Lily saw ☃ and é.");
  const stream = tokenizer.createStreamDecoder();
  const parts = ids.map((id) => stream.push(id));
  parts.push(stream.flush());
  assert.equal(parts.join(""), "Lily saw ☃ and é.");
  assert.ok(!parts.some((p) => p.includes("\uFFFD")));
  assert.throws(() => tokenizer.decode([9999]), (e: unknown) => (e as { code?: string }).code === "TOKEN_ID_OUT_OF_RANGE");
});

test("loads a sharded llama folder: config, weights, tokenizer, rotate-half forward equals the golden logits", async () => {
  const dir = join(root, "tiny");
  writeTinyHfFolder(dir);
  const model = await loadHfFolder(dir);
  assert.deepEqual(
    { ...model.config, normEps: model.config.normEps },
    { ...gguf.config, normEps: 1e-5, ropeLayout: "rotate-half" },
  );
  assert.equal(model.source.format, "safetensors");
  assert.match(model.source.sha256, /^[0-9a-f]{64}$/);
  assert.equal(model.tokenizer.digest, gguf.tokenizer.digest);
  assert.equal(model.weights.size, gguf.weights.size);
  assert.deepEqual(model.weights.get("layers.4.w_down"), gguf.weights.get("layers.4.w_down"));
  assert.notDeepEqual(model.weights.get("layers.0.wq")!.data, gguf.weights.get("layers.0.wq")!.data);
  const [logits] = referenceLogits(model.config, model.weights, [1]);
  const golden: number[] = reference.logits_bos_pos0.logits;
  let maxDiff = 0;
  for (let i = 0; i < golden.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden[i]));
  assert.ok(maxDiff < 1e-6, `max |Δlogit| ${maxDiff}`);
  const tf = reference.teacher_forced_logprobs;
  const lp = referenceNextTokenLogProbs(model.config, model.weights, tf.full_ids);
  lp.forEach((v, t) => assert.ok(Math.abs(v - tf.logprobs_next_token[t]) < 1e-6, `t=${t}`));
});

test("qwen2 folder: qkv biases, tied embeddings ignore lm_head, F16 weights", async () => {
  const dir = join(root, "qwen");
  mkdirSync(dir);
  const config = { ...tinyConfig, model_type: "qwen2", num_hidden_layers: 1, tie_word_embeddings: true, rms_norm_eps: 1e-6, rope_theta: 1000000, bos_token_id: null, eos_token_id: 2 };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok512AsTokenizerJson()));
  const tensors = new Map<string, WeightTensor>();
  let seed = 1;
  const random = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2) });
  for (const [name, shape] of [["tok_embeddings", [512, 64]], ["norm", [64]], ["output", [512, 64]], ["layers.0.attn_norm", [64]], ["layers.0.wq", [64, 64]], ["layers.0.wk", [32, 64]], ["layers.0.wv", [32, 64]], ["layers.0.bq", [64]], ["layers.0.bk", [32]], ["layers.0.bv", [32]], ["layers.0.wo", [64, 64]], ["layers.0.ffn_norm", [64]], ["layers.0.w_gate", [172, 64]], ["layers.0.w_up", [172, 64]], ["layers.0.w_down", [64, 172]]] as [string, number[]][]) {
    tensors.set(hfName(name), random(shape));
  }
  writeFileSync(join(dir, "model.safetensors"), writeSafetensors(tensors, { dtype: "F16" }));
  const model = await loadHfFolder(dir);
  assert.equal(model.config.qkvBias, true);
  assert.equal(model.config.tiedEmbeddings, true);
  assert.equal(model.config.ropeTheta, 1000000);
  assert.equal(model.config.normEps, 1e-6);
  assert.equal(model.weights.has("output"), false);
  assert.equal(model.weights.get("layers.0.bk")!.data.length, 32);
  // No BOS in config or tokenizer_config: the tokenizer falls back to EOS as BOS.
  assert.equal(model.config.bosId, 2);
  const original = tensors.get("model.layers.0.self_attn.q_proj.weight")!.data;
  const loaded = model.weights.get("layers.0.wq")!.data;
  for (let i = 0; i < original.length; i++) assert.ok(Math.abs(original[i] - loaded[i]) <= Math.abs(original[i]) * 1e-3 + 1e-7);
  const logits = referenceLogits(model.config, model.weights, [1, 5]);
  assert.ok(logits[1].every(Number.isFinite));
});

test("config.json mapping: GQA defaults, mistral sliding window, rejected features", () => {
  const mistral = hfLlamaConfig({ ...tinyConfig, model_type: "mistral", num_key_value_heads: undefined, max_position_embeddings: 32768, sliding_window: 4096, tie_word_embeddings: false });
  assert.equal(mistral.nKvHeads, 8);
  assert.equal(mistral.maxSeqLen, 4096);
  assert.equal(mistral.tiedEmbeddings, false);
  assert.equal(mistral.qkvBias, false);
  assert.throws(() => hfLlamaConfig({ ...tinyConfig, model_type: "gpt2" }), (e: unknown) => e instanceof HfModelError && e.code === "UNSUPPORTED_ARCHITECTURE" && /gpt2/.test(e.message));
  assert.throws(() => hfLlamaConfig({ ...tinyConfig, rope_scaling: { rope_type: "llama3", factor: 8 } }), (e: unknown) => e instanceof HfModelError && e.code === "UNSUPPORTED_FEATURE");
  assert.throws(() => hfLlamaConfig({ ...tinyConfig, hidden_size: "64" }), (e: unknown) => e instanceof HfModelError && e.code === "BAD_CONFIG" && /hidden_size/.test(e.message));
});

test("broken folders fail with typed errors naming the problem", async () => {
  const dir = join(root, "broken");
  writeTinyHfFolder(dir);
  rmSync(join(dir, "model-00002-of-00002.safetensors"));
  await assert.rejects(loadHfFolder(dir), (e: unknown) => e instanceof HfModelError && e.code === "MISSING_FILE" && /00002/.test(e.message));
  rmSync(join(dir, "model.safetensors.index.json"));
  await assert.rejects(loadHfFolder(dir), (e: unknown) => e instanceof ModelWeightsError && e.code === "MISSING_TENSOR" && /layers\.3/.test(e.message));
  writeFileSync(join(dir, "extra.safetensors"), writeSafetensors([["model.layers.0.self_attn.o_proj.bias", { shape: [64], data: new Float32Array(64) }]]));
  await assert.rejects(loadHfFolder(dir), (e: unknown) => e instanceof HfModelError && e.code === "UNKNOWN_TENSOR" && /o_proj\.bias/.test(e.message));
  rmSync(join(dir, "tokenizer.json"));
  await assert.rejects(loadHfFolder(dir), (e: unknown) => e instanceof HfModelError && e.code === "MISSING_FILE" && /tokenizer\.json/.test(e.message));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...tinyConfig, vocab_size: 100 }));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok512AsTokenizerJson()));
  await assert.rejects(loadHfFolder(dir), (e: unknown) => e instanceof HfModelError && e.code === "VOCABULARY_MISMATCH");
});
