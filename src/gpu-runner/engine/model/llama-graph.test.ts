/**
 * @module engine/model/llama-graph.test
 * The decoder graph against the plain-TypeScript float64 reference (both RoPE layouts, GQA, biases, tied and
 * untied heads), float32 vs float64, weights as inputs vs initializers, and the stories260K golden values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mulberry32 } from "../onnx/index.ts";
import { createEngineSession, type HostTensor } from "../session/index.ts";
import type { LlamaConfig, ModelWeights } from "./config.ts";
import { buildLogitsGraph, type WeightsPlacement } from "./llama-graph.ts";
import { logSoftmax, randomTinyWeights, referenceLogits, tinyConfig } from "./arm-graph-reference.ts";
import type { FloatDType } from "../onnx/index.ts";

async function graphLogits(
  config: LlamaConfig,
  weights: ModelWeights,
  rows: number[][],
  dtype: FloatDType,
  weightsAs: WeightsPlacement,
  positions?: number[][],
): Promise<Float64Array[][]> {
  const T = rows[0].length;
  const pos = positions ?? rows.map(() => Array.from({ length: T }, (_, t) => t));
  const P = pos[0].length;
  const graph = buildLogitsGraph(config, weights, { batch: rows.length, seqLen: T, positions: P, dtype, weightsAs });
  const session = await createEngineSession(graph, { graphOptimizationLevel: dtype === "float64" ? "basic" : "all", intraOpNumThreads: 1 });
  const feeds: Record<string, HostTensor> = {
    ...graph.frozenFeeds,
    input_ids: { dtype: "int64", shape: [rows.length, T], data: BigInt64Array.from(rows.flat().map(BigInt)) },
    positions: { dtype: "int64", shape: [rows.length, P], data: BigInt64Array.from(pos.flat().map(BigInt)) },
  };
  const out = await session.run(feeds);
  await session.release();
  assert.deepEqual([...out.logits.shape], [rows.length, P, config.vocabSize]);
  const V = config.vocabSize;
  const data = out.logits.data as Float32Array | Float64Array;
  return rows.map((_, r) => pos[r].map((_, p) => Float64Array.from(data.subarray((r * P + p) * V, (r * P + p + 1) * V))));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const variants: { name: string; config: LlamaConfig }[] = [
  { name: "interleaved RoPE, GQA 4/2, tied head", config: tinyConfig() },
  { name: "rotate-half RoPE, q/k/v biases, untied head, GQA 4/1", config: tinyConfig({ ropeLayout: "rotate-half", qkvBias: true, tiedEmbeddings: false, nKvHeads: 1 }) },
  { name: "rotate-half RoPE, MHA, 3 layers", config: tinyConfig({ ropeLayout: "rotate-half", nKvHeads: 2, nLayers: 3, headDim: 6, nHeads: 2, ropeTheta: 500 }) },
];

for (const { name, config } of variants) {
  test(`float64 graph equals the TS reference: ${name}`, async () => {
    const random = mulberry32(7);
    const weights = randomTinyWeights(config, random);
    const rows = [
      [1, 5, 9, 3, 30, 2, 7],
      [1, 36, 0, 12, 12, 4, 8],
    ];
    const got = await graphLogits(config, weights, rows, "float64", "inputs");
    for (let r = 0; r < rows.length; r++) {
      const ref = referenceLogits(config, weights, rows[r]);
      for (let t = 0; t < rows[r].length; t++) {
        const scale = Math.max(...ref[t].map(Math.abs));
        assert.ok(maxAbsDiff(got[r][t], ref[t]) <= 1e-10 * scale, `row ${r} pos ${t}: ${maxAbsDiff(got[r][t], ref[t])}`);
      }
    }
  });
}

test("RoPE layouts differ (the layout is honoured) and positions pick rows of the sequence", async () => {
  const a = tinyConfig();
  const b = tinyConfig({ ropeLayout: "rotate-half" });
  const weights = randomTinyWeights(a, mulberry32(3));
  const rows = [[1, 4, 6, 8, 10]];
  const la = await graphLogits(a, weights, rows, "float64", "initializers", [[4, 2]]);
  const lb = await graphLogits(b, weights, rows, "float64", "initializers", [[4, 2]]);
  assert.ok(maxAbsDiff(la[0][0], lb[0][0]) > 1e-3, "layouts must give different logits");
  const full = await graphLogits(a, weights, rows, "float64", "inputs");
  assert.ok(maxAbsDiff(la[0][0], full[0][4]) < 1e-12);
  assert.ok(maxAbsDiff(la[0][1], full[0][2]) < 1e-12);
});

test("float32 with weights as initializers matches the float64 reference to 1e-4", async () => {
  const config = tinyConfig({ qkvBias: true });
  const weights = randomTinyWeights(config, mulberry32(11));
  const rows = [[1, 5, 9, 3, 30, 2]];
  const got = await graphLogits(config, weights, rows, "float32", "initializers");
  const ref = referenceLogits(config, weights, rows[0]);
  for (let t = 0; t < rows[0].length; t++) assert.ok(maxAbsDiff(got[0][t], ref[t]) < 1e-4, `pos ${t}: ${maxAbsDiff(got[0][t], ref[t])}`);
});

test("right padding does not change earlier positions", async () => {
  const config = tinyConfig();
  const weights = randomTinyWeights(config, mulberry32(5));
  const got = await graphLogits(config, weights, [[1, 5, 9, 3, 0, 0], [1, 5, 9, 3, 17, 33]], "float64", "inputs");
  for (let t = 0; t < 4; t++) assert.ok(maxAbsDiff(got[0][t], got[1][t]) < 1e-12);
  assert.ok(maxAbsDiff(got[0][4], got[1][4]) > 1e-6);
});

const storiesDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);

test("stories260K GGUF reproduces the llama2.c golden logits and teacher-forced log-probs", { skip: !existsSync(storiesDir) && "shared data missing" }, async () => {
  const { loadGguf } = await import("./gguf.ts");
  const model = await loadGguf(new URL("tinyllamas-stories-260k-f32.gguf", storiesDir).pathname);
  const golden = JSON.parse(readFileSync(new URL("reference-outputs.json", storiesDir), "utf8")) as {
    logits_bos_pos0: { logits: number[]; top5: [number, number][] };
    teacher_forced_logprobs: { full_ids: number[]; prompt_ids: number[]; logprobs_next_token: number[]; sum_logprob_response_tokens: number };
  };
  assert.equal(model.config.ropeLayout, "interleaved");
  const [bos] = await graphLogits(model.config, model.weights, [[model.config.bosId]], "float32", "initializers");
  const expected = golden.logits_bos_pos0.logits;
  assert.equal(bos[0].length, expected.length);
  assert.ok(maxAbsDiff(bos[0], expected) <= 1e-4, `BOS logits max diff ${maxAbsDiff(bos[0], expected)}`);
  assert.equal(bos[0].indexOf(Math.max(...bos[0])), golden.logits_bos_pos0.top5[0][0]);
  const tf = golden.teacher_forced_logprobs;
  const [logits] = await graphLogits(model.config, model.weights, [tf.full_ids], "float32", "inputs");
  let responseSum = 0;
  for (let t = 0; t + 1 < tf.full_ids.length; t++) {
    const lp = logSoftmax(logits[t])[tf.full_ids[t + 1]];
    assert.ok(Math.abs(lp - tf.logprobs_next_token[t]) < 1e-4, `next-token log-prob at ${t}: ${lp} vs ${tf.logprobs_next_token[t]}`);
    if (t + 1 >= tf.prompt_ids.length) responseSum += lp;
  }
  assert.ok(Math.abs(responseSum - tf.sum_logprob_response_tokens) < 1e-4, `response sum ${responseSum}`);
});

test("prefill + KV-cache steps reproduce the full graph's logits (ragged rows, GQA, PBLoRA α per row)", async () => {
  const { buildDecodeStepGraph, buildPrefillGraph, cacheMask, emptyCache, kvNames, prefillIntoCache, writeStepIntoCache } = await import("./llama-graph.ts");
  const { initAdapterTensors, pbloraSpec, adapterTensorShapes } = await import("./pblora.ts");
  const config = tinyConfig({ qkvBias: true });
  const random = mulberry32(17);
  const weights = randomTinyWeights(config, random);
  const spec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
  const tensors = initAdapterTensors(config, spec, random);
  for (const [name, d] of tensors) if (name.endsWith("_B")) for (let i = 0; i < d.length; i++) d[i] = (2 * random() - 1) * 0.3;
  const adapter = { spec, placement: { as: "initializers" as const, tensors } };
  const alpha: HostTensor = { dtype: "float64", shape: [2, 2], data: Float64Array.of(0.3, 0.7, 1, 0) };
  const full = [
    [1, 5, 9, 3, 30, 2, 7, 8],
    [1, 7, 7, 2, 11, 4, 19, 6],
  ];
  const promptLen = [3, 5];
  const T = full[0].length;
  const run = async (graph: ReturnType<typeof buildPrefillGraph>, feeds: Record<string, HostTensor>) => {
    const session = await createEngineSession(graph, { intraOpNumThreads: 1 });
    const out = await session.run({ ...graph.frozenFeeds, ...feeds, alpha });
    await session.release();
    return out;
  };
  const ids = (rows: number[][]): HostTensor => ({ dtype: "int64", shape: [rows.length, rows[0].length], data: BigInt64Array.from(rows.flat().map(BigInt)) });
  // Reference: the full logits graph over whole sequences.
  const reference = buildLogitsGraph(config, weights, { batch: 2, seqLen: T, positions: T, dtype: "float64", weightsAs: "initializers", adapter });
  const refOut = await run(reference, { input_ids: ids(full), positions: ids(full.map(() => Array.from({ length: T }, (_, t) => t))) });
  const refLogits = (r: number, t: number) => (refOut.logits.data as Float64Array).subarray((r * T + t) * config.vocabSize, (r * T + t + 1) * config.vocabSize);
  // Prefill over right-padded prompts.
  const P = Math.max(...promptLen);
  const prompts = full.map((row, r) => [...row.slice(0, promptLen[r]), ...new Array<number>(P - promptLen[r]).fill(0)]);
  const prefill = buildPrefillGraph(config, weights, { batch: 2, seqLen: P, positions: 1, dtype: "float64", weightsAs: "inputs", adapter });
  const pre = await run(prefill, { input_ids: ids(prompts), positions: ids(promptLen.map((n) => [n - 1])) });
  promptLen.forEach((n, r) => assert.ok(maxAbsDiff((pre.logits.data as Float64Array).subarray(r * config.vocabSize, (r + 1) * config.vocabSize), refLogits(r, n - 1)) < 1e-10));
  const cacheLen = 10;
  const caches = Array.from({ length: config.nLayers }, (_, l) => {
    const k = emptyCache(config, 2, cacheLen, "float64");
    const v = emptyCache(config, 2, cacheLen, "float64");
    prefillIntoCache(k, pre[kvNames(l).presentK]);
    prefillIntoCache(v, pre[kvNames(l).presentV]);
    return { k, v };
  });
  const step = buildDecodeStepGraph(config, weights, { batch: 2, cacheLen, dtype: "float64", weightsAs: "initializers", adapter });
  const session = await createEngineSession(step, { intraOpNumThreads: 1 });
  const positions = [...promptLen];
  for (let s = 0; s < 3; s++) {
    const feeds: Record<string, HostTensor> = {
      alpha,
      input_ids: ids(full.map((row, r) => [row[positions[r]]])),
      position: { dtype: "int64", shape: [2], data: BigInt64Array.from(positions.map(BigInt)) },
      cache_mask: cacheMask(positions, cacheLen, "float64"),
    };
    caches.forEach(({ k, v }, l) => ((feeds[kvNames(l).pastK] = k), (feeds[kvNames(l).pastV] = v)));
    const out = await session.run(feeds);
    assert.deepEqual([...out.logits.shape], [2, config.vocabSize]);
    positions.forEach((p, r) => {
      const got = (out.logits.data as Float64Array).subarray(r * config.vocabSize, (r + 1) * config.vocabSize);
      const diff = maxAbsDiff(got, refLogits(r, p));
      assert.ok(diff < 1e-10, `step ${s} row ${r} position ${p}: ${diff}`);
    });
    caches.forEach(({ k, v }, l) => {
      writeStepIntoCache(k, out[kvNames(l).newK], positions);
      writeStepIntoCache(v, out[kvNames(l).newV], positions);
    });
    positions.forEach((_, r) => positions[r]++);
  }
  await session.release();
  assert.ok(adapterTensorShapes(config, spec).size > 0);
  assert.throws(() => cacheMask([11], cacheLen, "float64"), /outside \[0, 10\]/);
});

test("missing or mis-shaped weights and bad configs raise ModelWeightsError naming the tensor", async () => {
  const { ModelWeightsError } = await import("../util/loaded-model.ts");
  const config = tinyConfig();
  const weights = randomTinyWeights(config, mulberry32(2));
  const build = (w: ModelWeights, c: LlamaConfig = config) => buildLogitsGraph(c, w, { batch: 1, seqLen: 3, positions: 1, dtype: "float32", weightsAs: "inputs" });
  const missing = new Map(weights);
  missing.delete("layers.1.wk");
  assert.throws(() => build(missing), (e: unknown) => e instanceof ModelWeightsError && e.code === "MISSING_TENSOR" && /layers\.1\.wk/.test(e.message));
  const bad = new Map(weights);
  bad.set("layers.0.w_up", { shape: [24, 15], data: new Float32Array(360) });
  assert.throws(() => build(bad), (e: unknown) => e instanceof ModelWeightsError && e.code === "SHAPE_MISMATCH" && /layers\.0\.w_up.*\[24,15\].*\[24,16\]/.test(e.message));
  assert.throws(() => build(weights, tinyConfig({ nKvHeads: 3 })), /multiple of nKvHeads/);
  assert.throws(() => build(weights, { ...config, ropeLayout: "neox" as "interleaved" }), /ropeLayout/);
});

test("the graph also agrees with the loaders' independent reference forward (reference-forward.ts)", async () => {
  const { referenceLogits: loaderReference } = await import("./reference-forward.ts");
  const config = tinyConfig({ ropeLayout: "rotate-half", qkvBias: true, tiedEmbeddings: false });
  const weights = randomTinyWeights(config, mulberry32(23));
  const ids = [1, 9, 14, 3, 3, 27];
  const [got] = await graphLogits(config, weights, [ids], "float64", "initializers");
  const ref = loaderReference(config, weights, ids);
  ids.forEach((_, t) => assert.ok(maxAbsDiff(got[t], ref[t]) < 1e-10, `position ${t}: ${maxAbsDiff(got[t], ref[t])}`));
});
