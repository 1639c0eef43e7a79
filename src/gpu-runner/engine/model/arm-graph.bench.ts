/**
 * @module engine/model/arm-graph.bench
 * Times one ARM train step (forward + backward to the adapter) and the score forward on a random
 * d=256, 4-layer, V=32000 model, T=128, float32, CPU. Usage:
 *   node --import @swc-node/register/esm-register src/gpu-runner/engine/model/arm-graph.bench.ts [pairs] [responseLen] [threads] [weightsAs]
 */
import { mulberry32 } from "../onnx/index.ts";
import { createEngineSession } from "../session/index.ts";
import { adapterFeeds, armTrainBatchFeeds, buildArmScoreGraph, buildArmTrainGraph, packArmRows, type ArmPair } from "./arm-graph.ts";
import { randomTinyWeights, tinyConfig } from "./arm-graph-reference.ts";
import { initAdapterTensors, pbloraSpec } from "./pblora.ts";
import type { WeightsPlacement } from "./llama-graph.ts";

const pairsCount = Number(process.argv[2] ?? 4);
const responseLen = Number(process.argv[3] ?? 127);
const threads = Number(process.argv[4] ?? 2);
const weightsAs = (process.argv[5] ?? "initializers") as WeightsPlacement;
const T = 128;
const config = tinyConfig({ vocabSize: 32000, dim: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, headDim: 64, ffnDim: 768, maxSeqLen: 512 });
const random = mulberry32(1);
const weights = randomTinyWeights(config, random);
const spec = pbloraSpec({ r1: 4, r2: 4, numObjectives: 4, loraAlpha: 8 });
const tensors = initAdapterTensors(config, spec, random);
for (const [name, d] of tensors) if (name.endsWith("_B")) for (let i = 0; i < d.length; i++) d[i] = (random() - 0.5) * 0.01;

const tokens = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(random() * 31000));
const row = () => {
  const prompt = tokens(T - responseLen);
  const ids = [...prompt, ...tokens(responseLen)];
  return { ids, labels: ids.map((id, t) => (t < prompt.length ? -100 : id)) };
};
const pairs: ArmPair[] = Array.from({ length: pairsCount }, () => ({ first: row(), second: row(), sign: [1, -1, 1, -1] }));

let t0 = performance.now();
const graph = buildArmTrainGraph(config, weights, spec, { batchPairs: pairsCount, seqLen: T, responseLen, dtype: "float32", weightsAs });
const buildMs = performance.now() - t0;
t0 = performance.now();
const session = await createEngineSession(graph, { intraOpNumThreads: threads, graphOptimizationLevel: "all" });
const createMs = performance.now() - t0;
const feeds = {
  ...graph.frozenFeeds,
  ...adapterFeeds(config, spec, tensors, "float32"),
  ...armTrainBatchFeeds(graph, { pairs, alpha: [0.25, 0.25, 0.25, 0.25], beta: [0.01, 0.01, 0.01, 0.01], padId: 0 }),
};
const times: number[] = [];
for (let i = 0; i < 6; i++) {
  const s = performance.now();
  await session.run(feeds);
  times.push(performance.now() - s);
}
const score = buildArmScoreGraph(config, weights, spec, { batch: 2 * pairsCount, seqLen: T, responseLen, dtype: "float32", weightsAs });
const scoreSession = await createEngineSession(score, { intraOpNumThreads: threads, graphOptimizationLevel: "all" });
const scoreFeeds = {
  ...score.frozenFeeds,
  ...adapterFeeds(config, spec, tensors, "float32"),
  ...packArmRows(pairs.flatMap((p) => [p.first, p.second]), 2 * pairsCount, T, responseLen, 0, "float32"),
  alpha: { dtype: "float32" as const, shape: [2 * pairsCount, 4], data: new Float32Array(2 * pairsCount * 4).fill(0.25) },
};
const scoreTimes: number[] = [];
for (let i = 0; i < 6; i++) {
  const s = performance.now();
  await scoreSession.run(scoreFeeds);
  scoreTimes.push(performance.now() - s);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  pairs: pairsCount, rows: 2 * pairsCount, T, responseLen, threads, weightsAs,
  modelBytes: graph.modelBytes.byteLength, buildMs: Math.round(buildMs), createMs: Math.round(createMs),
  trainStepMs: { median: Math.round(median(times)), min: Math.round(Math.min(...times)) },
  scoreForwardMs: { median: Math.round(median(scoreTimes)), min: Math.round(Math.min(...scoreTimes)) },
  rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
}));
