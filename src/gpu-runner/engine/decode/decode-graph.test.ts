/**
 * @module engine/decode/decode-graph.test
 * Prefill + cached steps through CachedDecoder against the full-sequence forward: the float32 and float64 graphs
 * over whole sequences and the plain-TypeScript float64 reference (with PBLoRA α per row, ragged prompts, GQA,
 * cache growth across capacity buckets), fan-out of identical rows, and input errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32, type FloatDType, type HostTensor } from "../onnx/index.ts";
import { createEngineSession } from "../session/index.ts";
import { randomTinyWeights, referenceLogits, tinyConfig } from "../model/arm-graph-reference.ts";
import { buildLogitsGraph } from "../model/llama-graph.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../model/pblora.ts";
import type { LlamaConfig, ModelWeights } from "../model/config.ts";
import { CachedDecoder, DecoderInputError, type DecodeAdapter } from "./decode-graph.ts";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function randomAdapter(config: LlamaConfig, spec: AdapterSpec, seed: number): DecodeAdapter {
  const random = mulberry32(seed);
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, data] of tensors) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.3;
  return { spec, tensors };
}

/** Full-sequence logits of the ONNX logits graph (every position), rows of equal length. */
async function fullGraphLogits(
  config: LlamaConfig,
  weights: ModelWeights,
  rows: number[][],
  dtype: FloatDType,
  adapter?: DecodeAdapter,
  alphas?: number[][],
): Promise<(r: number, t: number) => Float64Array> {
  const T = rows[0].length;
  const B = rows.length;
  const graph = buildLogitsGraph(config, weights, {
    batch: B,
    seqLen: T,
    positions: T,
    dtype,
    weightsAs: "initializers",
    ...(adapter ? { adapter: { spec: adapter.spec, placement: { as: "initializers" as const, tensors: adapter.tensors } } } : {}),
  });
  const session = await createEngineSession(graph, { intraOpNumThreads: 1 });
  const ids = (x: number[][]): HostTensor => ({ dtype: "int64", shape: [x.length, x[0].length], data: BigInt64Array.from(x.flat().map(BigInt)) });
  const feeds: Record<string, HostTensor> = { input_ids: ids(rows), positions: ids(rows.map(() => Array.from({ length: T }, (_, t) => t))) };
  if (alphas) feeds.alpha = { dtype, shape: [B, alphas[0].length], data: dtype === "float32" ? Float32Array.from(alphas.flat()) : Float64Array.from(alphas.flat()) };
  const out = await session.run(feeds);
  await session.release();
  const V = config.vocabSize;
  return (r, t) => Float64Array.from((out.logits.data as Float32Array | Float64Array).subarray((r * T + t) * V, (r * T + t + 1) * V));
}

/** Runs prefill on the prompts, then feeds the rest of each row token by token; returns logits per (row, position). */
async function cachedLogits(decoder: CachedDecoder, full: number[][], promptLengths: number[], steps: number, alphas?: number[][]) {
  const V = decoder.config.vocabSize;
  const got: { r: number; t: number; logits: Float64Array }[] = [];
  const { logits, cache } = await decoder.prefill(full.map((row, r) => row.slice(0, promptLengths[r])), alphas);
  full.forEach((_, r) => got.push({ r, t: promptLengths[r] - 1, logits: Float64Array.from(logits.data.subarray(r * V, (r + 1) * V)) }));
  const capacities = [cache.capacity];
  for (let s = 0; s < steps; s++) {
    const positions = [...cache.lengths];
    const out = await decoder.step(cache, full.map((row, r) => row[positions[r]]), alphas);
    capacities.push(cache.capacity);
    full.forEach((_, r) => got.push({ r, t: positions[r], logits: Float64Array.from(out.data.subarray(r * V, (r + 1) * V)) }));
  }
  return { got, capacities };
}

const config = tinyConfig({ qkvBias: true, maxSeqLen: 32 });
const weights = randomTinyWeights(config, mulberry32(21));
const spec = pbloraSpec({ r1: 2, r2: 3, numObjectives: 2, loraAlpha: 6 });
const adapter = randomAdapter(config, spec, 5);
const alphas = [
  [0.3, 0.7],
  [1, 0],
];
const full = [
  [1, 5, 9, 3, 30, 2, 7, 8, 11, 14, 20, 33, 4, 6, 9, 10, 12],
  [1, 7, 7, 2, 11, 4, 19, 6, 21, 3, 3, 17, 28, 36, 0, 5, 8],
];
const promptLengths = [3, 6];
const steps = full[0].length - Math.max(...promptLengths);

test("float32 KV-cache steps equal the full-sequence forward to 1e-4 (PBLoRA α per row, ragged prompts, cache growth 8→16→32)", async () => {
  const decoder = new CachedDecoder({ config, weights }, adapter, { dtype: "float32", threads: 1, minCacheBucket: 4, minPromptBucket: 4 });
  const { got, capacities } = await cachedLogits(decoder, full, promptLengths, steps, alphas);
  assert.deepEqual([...new Set(capacities)], [8, 16, 32], "capacity grows through buckets");
  const graph32 = await fullGraphLogits(config, weights, full, "float32", adapter, alphas);
  let worstGraph = 0;
  let worstReference = 0;
  const refs = full.map((row, r) => referenceLogits(config, weights, row, { spec, tensors: adapter.tensors }, alphas[r]));
  for (const { r, t, logits } of got) {
    worstGraph = Math.max(worstGraph, maxAbsDiff(logits, graph32(r, t)));
    worstReference = Math.max(worstReference, maxAbsDiff(logits, refs[r][t]));
  }
  assert.ok(worstGraph < 1e-4, `cached vs full float32 graph: ${worstGraph}`);
  assert.ok(worstReference < 1e-4, `cached float32 vs float64 TS reference: ${worstReference}`);
  // α matters: row 0's logits under α = (1, 0) differ from those under (0.3, 0.7).
  const other = referenceLogits(config, weights, full[0], { spec, tensors: adapter.tensors }, [1, 0]);
  assert.ok(maxAbsDiff(refs[0][5], other[5]) > 1e-3);
  assert.ok(decoder.sessionCount >= 3, "one prefill and a step session per capacity bucket");
  await decoder.release();
});

test("float64 KV-cache steps equal the full-sequence float64 forward to 1e-10", async () => {
  const decoder = new CachedDecoder({ config, weights }, adapter, { dtype: "float64", threads: 1, minCacheBucket: 8 });
  const { got } = await cachedLogits(decoder, full, promptLengths, steps, alphas);
  const graph64 = await fullGraphLogits(config, weights, full, "float64", adapter, alphas);
  let worst = 0;
  for (const { r, t, logits } of got) worst = Math.max(worst, maxAbsDiff(logits, graph64(r, t)));
  assert.ok(worst < 1e-10, `float64 cached vs full: ${worst}`);
  await decoder.release();
});

test("identical prompts without α prefill once (batch 1) and fan out; later steps still track each row", async () => {
  const decoder = new CachedDecoder({ config, weights }, undefined, { threads: 1 });
  const prompt = [1, 4, 9, 16];
  const { logits, cache } = await decoder.prefill([prompt, prompt, prompt]);
  assert.equal(decoder.sessionCount, 1);
  assert.equal(logits.batch, 3);
  const V = config.vocabSize;
  assert.deepEqual([...logits.data.subarray(0, V)], [...logits.data.subarray(2 * V, 3 * V)]);
  assert.deepEqual([...cache.lengths], [4, 4, 4]);
  const next = [5, 6, 5];
  const out = await decoder.step(cache, next);
  const reference = (token: number) => referenceLogits(config, weights, [...prompt, token])[4];
  for (let r = 0; r < 3; r++) assert.ok(maxAbsDiff(out.data.subarray(r * V, (r + 1) * V), reference(next[r])) < 1e-4);
  assert.deepEqual([...out.data.subarray(0, V)], [...out.data.subarray(2 * V, 3 * V)]);
  await decoder.release();
});

test("bad decoder input is a typed error naming the problem", async () => {
  const decoder = new CachedDecoder({ config, weights }, adapter, { threads: 1 });
  await assert.rejects(decoder.prefill([[]], [[0.5, 0.5]]), (e: unknown) => e instanceof DecoderInputError && e.code === "INVALID_ROWS" && /row 0 is empty/.test(e.message));
  await assert.rejects(decoder.prefill([[1, 2]], [[0.5, 0.2, 0.3]]), (e: unknown) => e instanceof DecoderInputError && e.code === "INVALID_ALPHA" && /2 objectives/.test(e.message));
  await assert.rejects(decoder.prefill([[1, 2]]), (e: unknown) => e instanceof DecoderInputError && e.code === "INVALID_ALPHA");
  await assert.rejects(decoder.prefill([[1, 99]], [[1, 0]]), /row 0 token 1 is 99, outside the vocabulary \[0, 37\)/);
  await assert.rejects(decoder.prefill([new Array<number>(32).fill(1)], [[1, 0]]), (e: unknown) => e instanceof DecoderInputError && e.code === "PROMPT_TOO_LONG");
  const plain = new CachedDecoder({ config, weights });
  await assert.rejects(plain.prefill([[1]], [[1, 0]]), /takes no α/);
  const broken: DecodeAdapter = { spec, tensors: new Map([...adapter.tensors].slice(1)) };
  assert.throws(() => new CachedDecoder({ config, weights }, broken), (e: unknown) => e instanceof DecoderInputError && e.code === "INVALID_ADAPTER" && /is missing/.test(e.message));
  await decoder.release();
});

test("adapter tensors baked in as initializers give the same logits as adapter inputs", async () => {
  const asInputs = new CachedDecoder({ config, weights }, adapter, { dtype: "float64", threads: 1 });
  const baked = new CachedDecoder({ config, weights }, adapter, { dtype: "float64", threads: 1, adapterAs: "initializers", weightsAs: "initializers" });
  const a = await cachedLogits(asInputs, full, promptLengths, 3, alphas);
  const b = await cachedLogits(baked, full, promptLengths, 3, alphas);
  assert.equal(a.got.length, b.got.length);
  a.got.forEach((x, i) => assert.ok(maxAbsDiff(x.logits, b.got[i].logits) < 1e-12, `entry ${i}`));
  await asInputs.release();
  await baked.release();
});
