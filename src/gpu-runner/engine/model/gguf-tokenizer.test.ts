import { test } from "node:test";
import assert from "node:assert/strict";
import type { WeightTensor } from "./config.ts";
import { ggufToModel, parseGguf } from "./gguf.ts";
import { writeGguf, type GgufTensorInput, type GgufTypedValue } from "./gguf-writer.ts";
import { tokenizerFromGgufMetadata, type GgufTokenizerMetadata } from "./gguf-tokenizer.ts";
import { TokenizerError } from "./tokenizer.ts";

/** GPT-2's reversible byte → printable character map. */
function bytesToUnicode(): string[] {
  const printable = [...Array(94).keys()].map((i) => i + 33).concat([...Array(12).keys()].map((i) => i + 161), [...Array(82).keys()].map((i) => i + 174));
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable.includes(b) ? b : 256 + extra++));
}

const MERGES = ["h e", "l l", "Ġ w", "1 2"];
const TOKENS = [...bytesToUnicode(), ...MERGES.map((m) => m.replace(" ", "")), "<|endoftext|>"];
const TYPES = TOKENS.map((_, i) => (i === TOKENS.length - 1 ? 3 : 1));
const EOT = TOKENS.length - 1;

function metadata(pre: string, model = "gpt2"): GgufTokenizerMetadata {
  const values: Record<string, unknown> = {
    "tokenizer.ggml.model": model, "tokenizer.ggml.pre": pre, "tokenizer.ggml.tokens": TOKENS, "tokenizer.ggml.merges": MERGES,
    "tokenizer.ggml.token_type": TYPES, "tokenizer.ggml.eos_token_id": EOT, "tokenizer.ggml.bos_token_id": EOT,
  };
  return {
    string: (k) => values[k] as string | undefined,
    number: (k) => values[k] as number | undefined,
    strings: (k) => values[k] as string[] | undefined,
    numbers: (k) => values[k] as number[] | undefined,
  };
}

test("gpt2 (byte-level BPE) GGUF vocabularies: merges, specials, and the pre-tokenizer chosen by tokenizer.ggml.pre", () => {
  const qwen = tokenizerFromGgufMetadata(metadata("qwen2"));
  assert.equal(qwen.vocabSize, TOKENS.length);
  assert.equal(qwen.eosId, EOT);
  assert.deepEqual(qwen.encode("hello world", { bos: false }), [256, 257, 111, 258, 111, 114, 108, 100]);
  // qwen2 splits digits one by one, so "1 2" cannot merge; llama-bpe groups up to three digits, so it can.
  assert.deepEqual(qwen.encode("123", { bos: false }), [49, 50, 51]);
  const llama3 = tokenizerFromGgufMetadata(metadata("llama-bpe"));
  assert.deepEqual(llama3.encode("123", { bos: false }), [259, 51]);
  const text = "naïve ☃ 12 <|endoftext|>";
  assert.equal(qwen.decode(qwen.encode(text, { bos: false })), text.replace("<|endoftext|>", ""));
  assert.ok(qwen.encode(text, { bos: false }).includes(EOT), "special token text maps to its id");
  assert.throws(() => tokenizerFromGgufMetadata(metadata("deepseek-coder")), (e: unknown) => e instanceof TokenizerError && e.code === "UNSUPPORTED_TOKENIZER" && /deepseek-coder/.test(e.message));
  assert.throws(() => tokenizerFromGgufMetadata(metadata("qwen2", "rwkv")), (e: unknown) => e instanceof TokenizerError && /rwkv/.test(e.message));
});

test("a qwen2 GGUF loads with rotate-half RoPE, qkv biases and a byte-level tokenizer", async () => {
  let seed = 7;
  const random = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2);
  const V = TOKENS.length;
  const shapes: [string, number[]][] = [
    ["token_embd.weight", [V, 16]], ["output_norm.weight", [16]], ["blk.0.attn_norm.weight", [16]],
    ["blk.0.attn_q.weight", [16, 16]], ["blk.0.attn_k.weight", [8, 16]], ["blk.0.attn_v.weight", [8, 16]],
    ["blk.0.attn_q.bias", [16]], ["blk.0.attn_k.bias", [8]], ["blk.0.attn_v.bias", [8]],
    ["blk.0.attn_output.weight", [16, 16]], ["blk.0.ffn_norm.weight", [16]], ["blk.0.ffn_gate.weight", [24, 16]],
    ["blk.0.ffn_up.weight", [24, 16]], ["blk.0.ffn_down.weight", [16, 24]],
  ];
  const tensors: GgufTensorInput[] = shapes.map(([name, shape]) => ({ name, shape, data: random(shape), type: "F32" }));
  const meta: [string, GgufTypedValue][] = [
    ["general.architecture", { type: "string", value: "qwen2" }],
    ["qwen2.context_length", { type: "u32", value: 128 }], ["qwen2.embedding_length", { type: "u32", value: 16 }],
    ["qwen2.block_count", { type: "u32", value: 1 }], ["qwen2.feed_forward_length", { type: "u32", value: 24 }],
    ["qwen2.attention.head_count", { type: "u32", value: 4 }], ["qwen2.attention.head_count_kv", { type: "u32", value: 2 }],
    ["qwen2.rope.freq_base", { type: "f32", value: 1000000 }], ["qwen2.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-6 }],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }], ["tokenizer.ggml.pre", { type: "string", value: "qwen2" }],
    ["tokenizer.ggml.tokens", { type: "array", elementType: "string", value: TOKENS }],
    ["tokenizer.ggml.merges", { type: "array", elementType: "string", value: MERGES }],
    ["tokenizer.ggml.token_type", { type: "array", elementType: "i32", value: TYPES }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: EOT }], ["tokenizer.ggml.bos_token_id", { type: "u32", value: EOT }],
  ];
  const file = parseGguf(writeGguf({ version: 3, metadata: meta, tensors }));
  const model = await ggufToModel(file, (info) => file.tensorBytes(info));
  assert.equal(model.config.ropeLayout, "rotate-half");
  assert.equal(model.config.qkvBias, true);
  assert.equal(model.config.tiedEmbeddings, true);
  assert.equal(model.config.ropeTheta, 1000000);
  assert.equal(model.config.headDim, 4);
  assert.deepEqual((model.weights.get("layers.0.bk") as WeightTensor).data, tensors[7].data);
  assert.equal(model.tokenizer.kind, "hf-tokenizer-json");
  assert.deepEqual(model.tokenizer.encode("hello", { bos: false }), [256, 257, 111]);
});
