/**
 * @module bench/gpu/train-step
 * One PARM train step (forward + backward of the ARM train graph, model/arm-graph.ts) on a synthetic model, timed on
 * the provider that PARM_EXECUTION_PROVIDER resolves to (bench/execution-provider.ts): a warm-up step (session
 * build, shader compilation) and `--steps` timed ones; prints one JSON line
 * { provider, shape, batchPairs, seqLen, buildMs, firstStepMs, msPerStep, tokensPerSecond, peakRssMiB }.
 *
 *   node bench/gpu/train-step.ts [--shape tinyllama|small] [--pairs 1] [--seq 64] [--steps 2]
 *
 * `tinyllama`: TinyLlama-1.1B-shaped (d 2048, 22 layers, 32 query / 4 KV heads, FFN 5632, V 32000) with frozen
 * weights as initializers (resident on the device), filled with a bounded pseudo-random pattern (throughput does not
 * depend on the values). The adapter is PBLoRA r1 = r2 = 4, k = 2 on q, v (PARM's recipe). bench/gpu/device-check.sh
 * runs it on the GPU and on the CPU.
 */
import { parseArgs } from "node:util";
import { adapterFeeds, armTrainBatchFeeds, buildArmTrainGraph, IGNORE_LABEL, type ArmPair } from "../../src/gpu-runner/engine/model/arm-graph.ts";
import { initAdapterTensors, pbloraSpec } from "../../src/gpu-runner/engine/model/pblora.ts";
import { mulberry32 } from "../../src/gpu-runner/engine/onnx/index.ts";
import { createEngineSession } from "../../src/gpu-runner/engine/session/index.ts";
import { benchExecutionProvider } from "../execution-provider.ts";
import { shapeConfig, syntheticWeights } from "./synthetic.ts";

const { values } = parseArgs({ options: { shape: { type: "string", default: "tinyllama" }, pairs: { type: "string", default: "1" }, seq: { type: "string", default: "64" }, steps: { type: "string", default: "2" } } });

const config = shapeConfig(values.shape!);
const batchPairs = Number(values.pairs);
const seqLen = Number(values.seq);
const steps = Number(values.steps);
const provider = await benchExecutionProvider();
const random = mulberry32(5);
const row = (promptLen: number, responseLen: number) => {
  const ids = Array.from({ length: promptLen + responseLen }, (_, t) => (t === 0 ? config.bosId : 3 + Math.floor(random() * (config.vocabSize - 3))));
  return { ids, labels: ids.map((id, t) => (t < promptLen ? IGNORE_LABEL : id)) };
};
const half = Math.floor(seqLen / 2);
const pairs: ArmPair[] = Array.from({ length: batchPairs }, () => ({ first: row(half, seqLen - half), second: row(half, seqLen - half), sign: [1, -1] }));
const spec = pbloraSpec({ r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8 });
const tensors = initAdapterTensors(config, spec, random);
const t0 = performance.now();
const graph = buildArmTrainGraph(config, syntheticWeights(config), spec, { batchPairs, seqLen, responseLen: seqLen - half, dtype: "float32", weightsAs: "initializers" });
const session = await createEngineSession(graph, { executionProvider: provider, allowSpinning: true });
const buildMs = performance.now() - t0;
const feeds = { ...graph.frozenFeeds, ...adapterFeeds(config, spec, tensors, "float32"), ...armTrainBatchFeeds(graph, { pairs, alpha: [0.5, 0.5], beta: [0.1, 0.1], padId: 0 }) };
const fetches = ["loss", ...graph.gradientNames.values()];
let t = performance.now();
await session.run(feeds, fetches);
const firstStepMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < steps; i++) await session.run(feeds, fetches);
const msPerStep = (performance.now() - t) / steps;
await session.release();
console.log(JSON.stringify({ provider, shape: values.shape, batchPairs, seqLen, buildMs, firstStepMs, msPerStep, tokensPerSecond: (2 * batchPairs * seqLen) / (msPerStep / 1000), peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
