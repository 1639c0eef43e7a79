/**
 * @module engine/evaluate/reward-graph.test
 * The reward-model graphs against a plain-TypeScript float64 reference (the independent decoder of
 * model/arm-graph-reference.ts read out through an identity head, so its "logits" are the final hidden state),
 * Bradley–Terry loss and margins, gradients of every LoRA tensor and the score head against central finite
 * differences, the score graph equal to the train graph's rewards, and batch validation.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { checkGradients, createEngineSession, type EngineSession, type HostTensor } from "../session/index.ts";
import type { ModelWeights } from "../model/config.ts";
import { initAdapterTensors, type LoraSpec } from "../model/pblora.ts";
import { randomTinyWeights, referenceLogits, tinyConfig } from "../model/arm-graph-reference.ts";
import {
  buildRewardScoreGraph,
  buildRewardTrainGraph,
  packRewardRows,
  RewardBatchError,
  rewardTensorFeeds,
  rewardTrainBatchFeeds,
  SCORE_HEAD,
  type RewardPair,
  type RewardTrainGraph,
} from "./reward-graph.ts";

const config = tinyConfig();
const weights: ModelWeights = randomTinyWeights(config, mulberry32(5));
const spec: LoraSpec = { mode: "lora", rank: 3, loraAlpha: 6, targets: ["q", "v", "down"] };

function tensors(seed: number): Map<string, Float32Array> {
  const random = mulberry32(seed);
  const t = initAdapterTensors(config, spec, random);
  for (const [name, data] of t) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.5;
  t.set(SCORE_HEAD, Float32Array.from({ length: config.dim }, () => (2 * random() - 1) * 0.5));
  return t;
}

/** r(ids) from the independent reference: final hidden state at the last token · score head (pooling "last"),
 *  or the mean of h_t · score head over t ≥ responseStart (pooling "mean"). */
function referenceReward(ids: readonly number[], t: ReadonlyMap<string, Float32Array>, responseStart?: number): number {
  const identity = new Float32Array(config.vocabSize * config.dim);
  for (let i = 0; i < config.dim; i++) identity[i * config.dim + i] = 1;
  const probe = new Map(weights);
  probe.set("output", { shape: [config.vocabSize, config.dim], data: identity });
  const hiddenRows = referenceLogits({ ...config, tiedEmbeddings: false }, probe, ids, { spec, tensors: t });
  const head = t.get(SCORE_HEAD)!;
  const at = (pos: number) => {
    let r = 0;
    for (let i = 0; i < config.dim; i++) r += hiddenRows[pos][i] * head[i];
    return r;
  };
  if (responseStart === undefined) return at(ids.length - 1);
  let sum = 0;
  for (let pos = responseStart; pos < ids.length; pos++) sum += at(pos);
  return sum / (ids.length - responseStart);
}

const pairs: RewardPair[] = [
  { first: { ids: [1, 5, 9, 3, 30, 2] }, second: { ids: [1, 5, 9, 12, 2] }, sign: 1 },
  { first: { ids: [1, 20, 21, 22, 23, 24, 2] }, second: { ids: [1, 20, 8, 2] }, sign: -1 },
  { first: { ids: [1, 6, 2] }, second: { ids: [1, 6, 11, 13, 2] }, sign: 1 },
];

const num = (t: HostTensor): number[] => Array.from(t.data as Float64Array | Float32Array, Number);

describe("reward train graph (float64, LoRA on q, v, down; 3 pairs in a 4-pair bucket)", () => {
  const trained = tensors(17);
  let graph: RewardTrainGraph;
  let session: EngineSession;
  let feeds: Record<string, HostTensor>;
  let out: Record<string, HostTensor>;

  before(async () => {
    graph = buildRewardTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 8, dtype: "float64", weightsAs: "inputs" });
    session = await createEngineSession(graph, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
    feeds = { ...graph.frozenFeeds, ...rewardTensorFeeds(config, spec, trained, "float64"), ...rewardTrainBatchFeeds(graph, pairs, 0) };
    out = await session.run(feeds);
  });

  test("rewards, margins and the Bradley–Terry loss equal the TypeScript reference", () => {
    const r = num(out.rewards);
    const expected = pairs.map((p) => [referenceReward(p.first.ids, trained), referenceReward(p.second.ids, trained)]);
    expected.forEach(([a, b], i) => {
      assert.ok(Math.abs(r[i] - a) < 1e-10, `first ${i}: ${r[i]} vs ${a}`);
      assert.ok(Math.abs(r[4 + i] - b) < 1e-10, `second ${i}: ${r[4 + i]} vs ${b}`);
    });
    const margins = num(out.margins);
    expected.forEach(([a, b], i) => assert.ok(Math.abs(margins[i] - (a - b)) < 1e-10));
    assert.equal(margins[3], 0, "the padding pair has margin 0");
    const loss = expected.reduce((s, [a, b], i) => s + Math.log1p(Math.exp(-pairs[i].sign * (a - b))), 0) / pairs.length;
    assert.ok(Math.abs(num(out.loss)[0] - loss) < 1e-12, `loss ${num(out.loss)[0]} vs ${loss}`);
    assert.ok(Math.abs(expected[0][0] - expected[0][1]) > 1e-3, "margins must be non-trivial");
  });

  test("gradients of every LoRA tensor and the score head match central finite differences", async () => {
    const checks = [...graph.gradientNames].map(([input, gradientOutput]) => ({ input, gradientOutput, lossOutput: "loss" }));
    assert.equal(checks.length, config.nLayers * 3 * 2 + 1);
    assert.ok(graph.gradientNames.has(SCORE_HEAD));
    const results = await checkGradients(session, feeds, checks, { maxElementsPerTensor: 3, random: mulberry32(3) });
    const worst = results.reduce((w, r) => (r.relativeL2 > w.relativeL2 ? r : w));
    assert.ok(worst.relativeL2 < 1e-6, `worst ${worst.input}: ${worst.relativeL2} at h=${worst.bestStep}`);
    assert.ok(results.every((r) => r.gradientNorm > 0), "every trainable tensor gets a gradient");
  });

  test("the score graph gives the train graph's rewards (float32 within 1e-4)", async () => {
    const score = buildRewardScoreGraph(config, weights, spec, { batch: 3, seqLen: 8, dtype: "float32", weightsAs: "initializers" });
    const s = await createEngineSession(score, { intraOpNumThreads: 1 });
    const rows = pairs.map((p) => p.first);
    const result = await s.run({ ...rewardTensorFeeds(config, spec, trained, "float32"), ...packRewardRows(rows, 3, 8, 0) });
    await s.release();
    const r = num(result.rewards);
    const train = num(out.rewards);
    r.forEach((v, i) => assert.ok(Math.abs(v - train[i]) < 1e-4 * Math.max(1, Math.abs(train[i])), `row ${i}: ${v} vs ${train[i]}`));
  });

  test("bad batches raise RewardBatchError naming the problem", () => {
    assert.throws(() => rewardTrainBatchFeeds(graph, [], 0), (e: unknown) => e instanceof RewardBatchError && e.code === "INVALID_BATCH" && /0 pairs/.test(e.message));
    assert.throws(() => rewardTrainBatchFeeds(graph, [{ ...pairs[0], sign: 0 as 1 }], 0), /sign must be/);
    assert.throws(() => packRewardRows([{ ids: new Array(9).fill(1) }], 2, 8, 0), /9 tokens exceed seqLen 8/);
    assert.throws(() => rewardTensorFeeds(config, spec, new Map(), "float32"), (e: unknown) => e instanceof RewardBatchError && e.code === "INVALID_TENSORS");
  });
});

describe("reward graphs with pooling \"mean\" (float64): the score head averaged over the response tokens", () => {
  const trained = tensors(23);
  const meanPairs: RewardPair[] = [
    { first: { ids: [1, 5, 9, 3, 30, 2], responseStart: 3 }, second: { ids: [1, 5, 9, 12, 2], responseStart: 3 }, sign: 1 },
    { first: { ids: [1, 20, 21, 22, 23, 24, 2], responseStart: 2 }, second: { ids: [1, 20, 8, 2], responseStart: 2 }, sign: -1 },
    { first: { ids: [1, 6, 2], responseStart: 2 }, second: { ids: [1, 6, 11, 13, 2], responseStart: 2 }, sign: 1 },
  ];
  let graph: RewardTrainGraph;
  let session: EngineSession;
  let feeds: Record<string, HostTensor>;
  let out: Record<string, HostTensor>;

  before(async () => {
    graph = buildRewardTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 8, dtype: "float64", weightsAs: "inputs", pooling: "mean" });
    session = await createEngineSession(graph, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
    feeds = { ...graph.frozenFeeds, ...rewardTensorFeeds(config, spec, trained, "float64"), ...rewardTrainBatchFeeds(graph, meanPairs, 0) };
    out = await session.run(feeds);
  });

  test("rewards equal the reference mean over response positions, and differ from the last-token reward", () => {
    assert.equal(graph.pooling, "mean");
    const r = num(out.rewards);
    meanPairs.forEach((p, i) => {
      const a = referenceReward(p.first.ids, trained, p.first.responseStart);
      const b = referenceReward(p.second.ids, trained, p.second.responseStart);
      assert.ok(Math.abs(r[i] - a) < 1e-10, `first ${i}: ${r[i]} vs ${a}`);
      assert.ok(Math.abs(r[4 + i] - b) < 1e-10, `second ${i}: ${r[4 + i]} vs ${b}`);
    });
    assert.ok(Math.abs(r[0] - referenceReward(meanPairs[0].first.ids, trained)) > 1e-4, "mean and last-token rewards differ");
    const loss = meanPairs.reduce((s, p, i) => s + Math.log1p(Math.exp(-p.sign * (r[i] - r[4 + i]))), 0) / meanPairs.length;
    assert.ok(Math.abs(num(out.loss)[0] - loss) < 1e-12);
  });

  test("gradients match central finite differences", async () => {
    const checks = [...graph.gradientNames].map(([input, gradientOutput]) => ({ input, gradientOutput, lossOutput: "loss" }));
    const results = await checkGradients(session, feeds, checks, { maxElementsPerTensor: 3, random: mulberry32(4) });
    const worst = results.reduce((w, r) => (r.relativeL2 > w.relativeL2 ? r : w));
    assert.ok(worst.relativeL2 < 1e-6, `worst ${worst.input}: ${worst.relativeL2} at h=${worst.bestStep}`);
    assert.ok(results.every((r) => r.gradientNorm > 0), "every trainable tensor gets a gradient");
  });

  test("the score graph gives the train graph's rewards; a row without responseStart is refused", async () => {
    const score = buildRewardScoreGraph(config, weights, spec, { batch: 3, seqLen: 8, dtype: "float32", weightsAs: "initializers", pooling: "mean" });
    const s = await createEngineSession(score, { intraOpNumThreads: 1 });
    const rows = meanPairs.map((p) => p.first);
    const result = await s.run({ ...rewardTensorFeeds(config, spec, trained, "float32"), ...packRewardRows(rows, 3, 8, 0, score) });
    await s.release();
    const train = num(out.rewards);
    num(result.rewards).forEach((v, i) => assert.ok(Math.abs(v - train[i]) < 1e-4 * Math.max(1, Math.abs(train[i])), `row ${i}: ${v} vs ${train[i]}`));
    assert.throws(() => packRewardRows([{ ids: [1, 2, 3] }], 2, 8, 0, score), (e: unknown) => e instanceof RewardBatchError && /row 0: pooling "mean" needs responseStart/.test(e.message));
    assert.throws(() => packRewardRows([{ ids: [1, 2, 3], responseStart: 3 }], 2, 8, 0, score), /responseStart in \[0, 3\)/);
    assert.throws(() => buildRewardScoreGraph(config, weights, spec, { batch: 1, seqLen: 8, dtype: "float32", weightsAs: "inputs", pooling: "max" as "mean" }), /pooling must be one of last, mean/);
  });
});
