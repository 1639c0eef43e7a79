/**
 * @module engine/decode/fast-decoder.test
 * The fast decode graph (GroupQueryAttention, RotaryEmbedding, (Skip)SimplifiedLayerNormalization, MatMul) against
 * the plain-op reference path (decode/decode-graph.ts) on the real stories260K model: logits of a ragged prefill and
 * of eight decode steps agree within float32 tolerance, also with a PBLoRA adapter at per-row α and a plain LoRA,
 * and greedy decoding reproduces llama2.c's golden tokens.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadGguf } from "../model/gguf.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../model/pblora.ts";
import { mulberry32 } from "../onnx/index.ts";
import { CachedDecoder, type DecodeAdapter, type DecoderLogits } from "./decode-graph.ts";
import { FastDecoder } from "./fast-decoder.ts";
import { createGenerator } from "./generate.ts";

const storiesDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const golden = JSON.parse(readFileSync(new URL("reference-outputs.json", storiesDir), "utf8")) as {
  greedy_from_bos: { token_ids: number[]; text: string };
  greedy_with_prompt: { prompt: string; prompt_ids: number[]; token_ids: number[] };
};
const model = await loadGguf(new URL("tinyllamas-stories-260k-f32.gguf", storiesDir).pathname);

/** Largest |a − b| relative to the largest |b| of the rows (logits of this model reach ≈ 20). */
function relativeDiff(a: DecoderLogits, b: DecoderLogits): number {
  assert.equal(a.data.length, b.data.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    scale = Math.max(scale, Math.abs(b.data[i]));
  }
  return diff / scale;
}

function argmaxRows(l: DecoderLogits): number[] {
  return Array.from({ length: l.batch }, (_, r) => {
    let best = 0;
    for (let i = 1; i < l.vocab; i++) if (l.data[r * l.vocab + i] > l.data[r * l.vocab + best]) best = i;
    return best;
  });
}

/** Trained-looking adapter: random A/W1/W2 and B (B is zero at init, which would hide a wrong branch). */
function randomAdapter(spec: AdapterSpec, seed: number): DecodeAdapter {
  const random = mulberry32(seed);
  const tensors = initAdapterTensors(model.config, spec, random);
  for (const [name, t] of tensors) if (name.endsWith("_B")) for (let i = 0; i < t.length; i++) t[i] = (random() * 2 - 1) * 0.2;
  return { spec, tensors };
}

async function compare(adapter: DecodeAdapter | undefined, alphas: number[][] | undefined): Promise<void> {
  const reference = new CachedDecoder(model, adapter, { threads: 1 });
  const fast = new FastDecoder(model, adapter, { threads: 1 });
  try {
    // Ragged prompts (right-padded in one run); tolerance: float32 sums of 64–172 terms through 5 layers.
    const rows = [golden.greedy_with_prompt.prompt_ids, [1, 403, 407], [1]];
    const batchAlphas = alphas ? rows.map((_, r) => alphas[r % alphas.length]) : undefined;
    const ref = await reference.prefill(rows, batchAlphas);
    const got = await fast.prefill(rows, batchAlphas);
    assert.ok(relativeDiff(got.logits, ref.logits) < 1e-5, `prefill logits differ by ${relativeDiff(got.logits, ref.logits)}`);
    let tokens = argmaxRows(ref.logits);
    for (let step = 0; step < 8; step++) {
      const r = await reference.step(ref.cache, tokens, batchAlphas);
      const f = await fast.step(got.cache, tokens, batchAlphas);
      assert.ok(relativeDiff(f, r) < 1e-5, `step ${step} logits differ by ${relativeDiff(f, r)}`);
      assert.deepEqual(argmaxRows(f), argmaxRows(r));
      tokens = argmaxRows(r);
    }
    assert.deepEqual(got.cache.lengths, rows.map((row) => row.length + 8));
    assert.equal(fast.sessionCount, 1, "one session serves prefill and every step");
  } finally {
    await reference.release();
    await fast.release();
  }
}

test("fast decode graph: stories260K prefill (ragged batch) and 8 steps equal the plain-op reference", async () => {
  await compare(undefined, undefined);
});

test("fast decode graph with a PBLoRA adapter (all targets) at per-row α equals the reference", async () => {
  const spec = pbloraSpec({ r1: 2, r2: 3, numObjectives: 2, loraAlpha: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"] });
  await compare(randomAdapter(spec, 3), [[1, 0], [0.3, 0.7], [0, 1]]);
});

test("fast decode graph with a plain LoRA adapter equals the reference", async () => {
  await compare(randomAdapter({ mode: "lora", rank: 4, loraAlpha: 8, targets: ["q", "v"] }, 5), undefined);
});

test("fast decode graph: greedy generation reproduces llama2.c's 256 tokens from BOS", async () => {
  const generator = createGenerator({ base: model, threads: 1, fastDecode: true });
  try {
    const result = await generator.generate({ prompt: { tokenIds: [model.config.bosId] }, maxNewTokens: 256 });
    assert.deepEqual(result.outputs[0].tokenIds, golden.greedy_from_bos.token_ids.slice(1));
    assert.equal(result.outputs[0].text, golden.greedy_from_bos.text);
  } finally {
    await generator.release();
  }
});
