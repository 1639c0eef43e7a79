/**
 * @module engine/model/arm-graph.test
 * The ARM train graph against the plain-TypeScript float64 reference (loss, per-objective losses, margins,
 * sequence log-probs), its adapter gradients against finite differences, fused vs generic LogSoftmax gradients,
 * GenARM (plain LoRA), float32 vs float64, the score graph, and batch validation.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { checkGradients, createEngineSession, type HostTensor } from "../session/index.ts";
import type { ModelWeights } from "./config.ts";
import {
  adapterFeeds,
  ArmBatchError,
  armTrainBatchFeeds,
  buildArmScoreGraph,
  buildArmTrainGraph,
  dropoutMaskFeeds,
  IGNORE_LABEL,
  packArmRows,
  type ArmPair,
  type ArmRow,
  type ArmTrainGraph,
} from "./arm-graph.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "./pblora.ts";
import { randomTinyWeights, referenceArmLoss, referenceSequenceLogprob, tinyConfig } from "./arm-graph-reference.ts";

const config = tinyConfig();
const weights: ModelWeights = randomTinyWeights(config, mulberry32(31));
const spec = pbloraSpec({ r1: 2, r2: 3, numObjectives: 3, loraAlpha: 6 });

function row(prompt: number[], response: number[]): ArmRow {
  const ids = [...prompt, ...response, config.eosId];
  return { ids, labels: ids.map((id, t) => (t < prompt.length ? IGNORE_LABEL : id)) };
}

const pairs: ArmPair[] = [
  { first: row([1, 5, 9], [3, 30, 4]), second: row([1, 5, 9], [12, 7]), sign: [1, -1, 1] },
  { first: row([1, 20], [21, 22, 23, 24]), second: row([1, 20], [8]), sign: [-1, -1, 1], counts: [true, false, true] },
  { first: row([1, 6, 6, 6], [10]), second: row([1, 6, 6, 6], [11, 13]), sign: [1, 1, -1], counts: [true, true, false] },
];
const alpha = [0.2, 0.5, 0.3];
const beta = [0.7, 0.3, 1.5];

function trainedTensors(s: AdapterSpec, seed: number): Map<string, Float32Array> {
  const random = mulberry32(seed);
  const t = initAdapterTensors(config, s, random);
  for (const [name, data] of t) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.5;
  return t;
}

async function runTrain(graph: ArmTrainGraph, tensors: Map<string, Float32Array>, batchAlpha: number[] | number[][] | undefined, batchPairs = pairs) {
  const session = await createEngineSession(graph, { graphOptimizationLevel: graph.dtype === "float64" ? "basic" : "all", intraOpNumThreads: 1 });
  const feeds: Record<string, HostTensor> = {
    ...graph.frozenFeeds,
    ...adapterFeeds(config, graph.spec, tensors, graph.dtype),
    ...armTrainBatchFeeds(graph, { pairs: batchPairs, alpha: batchAlpha, beta: graph.spec.mode === "pblora" ? beta : [beta[0]], padId: 0 }),
  };
  return { session, feeds, out: await session.run(feeds) };
}

const num = (t: HostTensor): number[] => Array.from(t.data as Float64Array | Float32Array, Number);

describe("PARM train graph (float64, PBLoRA k=3, 3 pairs in a 4-pair bucket)", () => {
  const tensors = trainedTensors(spec, 41);
  let graph: ArmTrainGraph;
  let result: Awaited<ReturnType<typeof runTrain>>;

  before(async () => {
    graph = buildArmTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "inputs" });
    result = await runTrain(graph, tensors, alpha);
  });

  test("loss, per-objective losses and margins equal the TypeScript reference", () => {
    const ref = referenceArmLoss(
      config,
      weights,
      { spec, tensors },
      pairs.map((p) => ({ first: p.first, second: p.second, sign: p.sign, counts: p.counts ?? [true, true, true] })),
      alpha,
      beta,
    );
    const { out } = result;
    assert.ok(Math.abs(num(out.loss)[0] - ref.total) < 1e-12 * Math.max(1, Math.abs(ref.total)), `loss ${num(out.loss)[0]} vs ${ref.total}`);
    num(out.objective_losses).forEach((l, i) => assert.ok(Math.abs(l - ref.perObjective[i]) < 1e-12, `ℓ_${i} ${l} vs ${ref.perObjective[i]}`));
    const margins = num(out.margins);
    ref.margins.forEach((m, i) => assert.ok(Math.abs(margins[i] - m) < 1e-10, `margin ${i}: ${margins[i]} vs ${m}`));
    assert.ok(margins[3] === 0, "padding pair has zero margin");
    assert.ok(Math.abs(ref.margins[0]) > 1e-3, "margins must be non-trivial");
  });

  test("sequence log-probs follow TRL (shifted labels, prompt masked, EOS counted, summed)", () => {
    const logps = num(result.out.sequence_logps);
    pairs.forEach((p, i) => {
      const a = referenceSequenceLogprob(config, weights, p.first.ids, p.first.labels, { spec, tensors }, alpha);
      const b = referenceSequenceLogprob(config, weights, p.second.ids, p.second.labels, { spec, tensors }, alpha);
      assert.ok(Math.abs(logps[i] - a) < 1e-10, `first ${i}`);
      assert.ok(Math.abs(logps[4 + i] - b) < 1e-10, `second ${i}`);
    });
    assert.ok(logps[3] === 0, "padding row scores 0");
  });

  test("adapter gradients match central finite differences", async () => {
    const checks = [...graph.gradientNames].map(([input, gradientOutput]) => ({ input, gradientOutput, lossOutput: "loss" }));
    assert.equal(checks.length, config.nLayers * 3 * 4);
    const results = await checkGradients(result.session, result.feeds, checks, { maxElementsPerTensor: 3, random: mulberry32(8) });
    const worst = results.reduce((w, r) => (r.relativeL2 > w.relativeL2 ? r : w));
    assert.ok(worst.relativeL2 < 1e-6, `worst ${worst.input}: ${worst.relativeL2} at h=${worst.bestStep}`);
    assert.ok(results.every((r) => r.gradientNorm > 0));
  });

  test("fused LogSoftmax+GatherElements gradients equal the generic rules' gradients", async () => {
    const generic = buildArmTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "inputs", fuseLogSoftmaxGather: false });
    const other = await runTrain(generic, tensors, alpha);
    await other.session.release();
    for (const [, out] of graph.gradientNames) {
      const a = num(result.out[out]);
      const b = num(other.out[out]);
      const scale = Math.max(...b.map(Math.abs));
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-12 * scale, `${out}[${i}]`));
    }
    assert.ok(generic.modelBytes.byteLength !== graph.modelBytes.byteLength);
  });

  test("score graph reproduces the per-row log-probs with α per row", async () => {
    const score = buildArmScoreGraph(config, weights, spec, { batch: 3, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "initializers" });
    const rows = [pairs[0].first, pairs[1].second, pairs[2].first];
    const rowAlpha = [alpha, [1, 0, 0], [0, 0.5, 0.5]];
    const session = await createEngineSession(score, { graphOptimizationLevel: "basic" });
    const out = await session.run({
      ...packArmRows(rows, 3, 9, 6, 0, "float64"),
      ...adapterFeeds(config, spec, tensors, "float64"),
      alpha: { dtype: "float64", shape: [3, 3], data: Float64Array.from(rowAlpha.flat()) },
    });
    await session.release();
    const logps = num(out.sequence_logps);
    const train = num(result.out.sequence_logps);
    assert.ok(Math.abs(logps[0] - train[0]) < 1e-12);
    rows.forEach((r, i) => {
      const ref = referenceSequenceLogprob(config, weights, r.ids, r.labels, { spec, tensors }, rowAlpha[i]);
      assert.ok(Math.abs(logps[i] - ref) < 1e-10, `row ${i}: ${logps[i]} vs ${ref}`);
    });
  });

  test("α per pair: each pair's rows are scored under its own α", async () => {
    const perPair = [[1, 0, 0], [0, 1, 0], [0.3, 0.3, 0.4]];
    const other = await runTrain(graph, tensors, perPair);
    await other.session.release();
    const logps = num(other.out.sequence_logps);
    pairs.forEach((p, i) => {
      const ref = referenceSequenceLogprob(config, weights, p.second.ids, p.second.labels, { spec, tensors }, perPair[i]);
      assert.ok(Math.abs(logps[4 + i] - ref) < 1e-10, `pair ${i}`);
    });
  });

  test("adapter dropout: all-ones masks reproduce the plain graph, all-zero masks the bare base, a drawn mask changes the loss", async () => {
    const dropGraph = buildArmTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "inputs", adapterDropout: true });
    assert.equal(dropGraph.dropoutMasks.length, config.nLayers * 3);
    assert.deepEqual(dropGraph.dropoutMasks[0], { name: "dropout_mask.layers.0.q", shape: [8, 9, config.dim] });
    const session = await createEngineSession(dropGraph, { intraOpNumThreads: 1 });
    const feedsWith = (masks: Record<string, HostTensor>) => ({
      ...dropGraph.frozenFeeds,
      ...adapterFeeds(config, spec, tensors, "float64"),
      ...armTrainBatchFeeds(dropGraph, { pairs, alpha, beta, padId: 0 }),
      ...masks,
    });
    const ones = await session.run(feedsWith(dropoutMaskFeeds(dropGraph, 0, mulberry32(1))));
    assert.ok(Math.abs(num(ones.loss)[0] - num(result.out.loss)[0]) < 1e-14);
    for (const [, out] of graph.gradientNames) num(ones[out]).forEach((v, i) => assert.ok(Math.abs(v - num(result.out[out])[i]) < 1e-14));
    // Every input dropped: the adapters add nothing, as with B = 0.
    const zeros = await session.run(feedsWith(dropoutMaskFeeds(dropGraph, 0.999999, () => 0)));
    const bare = new Map([...tensors].map(([name, data]) => [name, name.endsWith("_B") ? new Float32Array(data.length) : data]));
    const base = await runTrain(graph, bare, alpha);
    await base.session.release();
    assert.ok(Math.abs(num(zeros.loss)[0] - num(base.out.loss)[0]) < 1e-12, `${num(zeros.loss)[0]} vs ${num(base.out.loss)[0]}`);
    assert.ok(Math.abs(num(base.out.loss)[0] - num(result.out.loss)[0]) > 1e-6, "the adapters matter without dropout");
    const a = await session.run(feedsWith(dropoutMaskFeeds(dropGraph, 0.5, mulberry32(3))));
    const again = await session.run(feedsWith(dropoutMaskFeeds(dropGraph, 0.5, mulberry32(3))));
    await session.release();
    assert.ok(Math.abs(num(a.loss)[0] - num(ones.loss)[0]) > 1e-9, "dropout changes the loss");
    assert.equal(num(a.loss)[0], num(again.loss)[0], "the same mask gives the same loss");
    assert.throws(() => armTrainBatchFeeds(graph, { pairs, alpha, beta, padId: 0, adapterDropout: { ratio: 0.1, random: Math.random } }), /built without adapterDropout/);
    assert.throws(() => dropoutMaskFeeds(dropGraph, 1, Math.random), /\[0, 1\)/);
  });

  test("adapter gradients with dropout (a fixed mask, p = 0.3) match central finite differences", async () => {
    const dropGraph = buildArmTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "inputs", adapterDropout: true });
    const session = await createEngineSession(dropGraph, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
    const masks = dropoutMaskFeeds(dropGraph, 0.3, mulberry32(12));
    const zeros = Object.values(masks).reduce((n, t) => n + Array.from(t.data as Float64Array).filter((v) => v === 0).length, 0);
    const total = Object.values(masks).reduce((n, t) => n + t.data.length, 0);
    assert.ok(zeros > 0.25 * total && zeros < 0.35 * total, `${zeros} of ${total} dropped at p = 0.3`);
    const feeds = { ...dropGraph.frozenFeeds, ...adapterFeeds(config, spec, tensors, "float64"), ...armTrainBatchFeeds(dropGraph, { pairs, alpha, beta, padId: 0 }), ...masks };
    const plain = num((await session.run(feeds)).loss)[0];
    assert.ok(Math.abs(plain - num(result.out.loss)[0]) > 1e-9, "the mask changes the loss");
    const checks = [...dropGraph.gradientNames].map(([input, gradientOutput]) => ({ input, gradientOutput, lossOutput: "loss" }));
    const results = await checkGradients(session, feeds, checks, { maxElementsPerTensor: 3, random: mulberry32(9) });
    await session.release();
    const worst = results.reduce((w, r) => (r.relativeL2 > w.relativeL2 ? r : w));
    assert.ok(worst.relativeL2 < 1e-6, `worst ${worst.input}: ${worst.relativeL2} at h=${worst.bestStep}`);
    assert.ok(results.every((r) => r.gradientNorm > 0));
  });

  test("float32 build agrees with float64 (loss and gradients)", async () => {
    const g32 = buildArmTrainGraph(config, weights, spec, { batchPairs: 4, seqLen: 9, responseLen: 6, dtype: "float32", weightsAs: "initializers" });
    const r32 = await runTrain(g32, tensors, alpha);
    await r32.session.release();
    const l64 = num(result.out.loss)[0];
    assert.ok(Math.abs(num(r32.out.loss)[0] - l64) < 1e-5 * Math.abs(l64), `float32 loss ${num(r32.out.loss)[0]} vs ${l64}`);
    let worst = 0;
    for (const [, out] of graph.gradientNames) {
      const a = num(r32.out[out]);
      const b = num(result.out[out]);
      let err = 0;
      let norm = 0;
      a.forEach((v, i) => ((err += (v - b[i]) ** 2), (norm += b[i] ** 2)));
      worst = Math.max(worst, Math.sqrt(err / norm));
    }
    assert.ok(worst < 1e-4, `worst float32 gradient relative L2 ${worst}`);
  });
});

test("GenARM (plain LoRA, one objective) loss equals the reference and its gradients pass finite differences", async () => {
  const lora: AdapterSpec = { mode: "lora", rank: 4, loraAlpha: 8, targets: ["q", "v"] };
  const tensors = trainedTensors(lora, 51);
  const graph = buildArmTrainGraph(config, weights, lora, { batchPairs: 2, seqLen: 9, responseLen: 6, dtype: "float64", weightsAs: "initializers" });
  assert.ok(!graph.inputNames.includes("alpha"));
  const two = pairs.slice(0, 2).map((p) => ({ ...p, sign: [p.sign[0]], counts: undefined }));
  const { session, feeds, out } = await runTrain(graph, tensors, undefined, two);
  const ref = referenceArmLoss(config, weights, { spec: lora, tensors }, two.map((p) => ({ ...p, counts: [true] })), [1], [beta[0]]);
  assert.ok(Math.abs(num(out.loss)[0] - ref.total) < 1e-12, `${num(out.loss)[0]} vs ${ref.total}`);
  const results = await checkGradients(
    session,
    feeds,
    [...graph.gradientNames].map(([input, gradientOutput]) => ({ input, gradientOutput, lossOutput: "loss" })),
    { maxElementsPerTensor: 4, random: mulberry32(9) },
  );
  await session.release();
  for (const r of results) assert.ok(r.relativeL2 < 1e-6, `${r.input}: ${r.relativeL2}`);
});

test("batches are validated with typed errors", () => {
  const graph = buildArmTrainGraph(config, weights, spec, { batchPairs: 2, seqLen: 6, responseLen: 3, dtype: "float32", weightsAs: "inputs" });
  const check = (batch: Parameters<typeof armTrainBatchFeeds>[1], pattern: RegExp) =>
    assert.throws(() => armTrainBatchFeeds(graph, batch), (e: unknown) => e instanceof ArmBatchError && e.code === "ARM_BATCH_INVALID" && pattern.test(e.message));
  check({ pairs: pairs.slice(0, 3), alpha, beta, padId: 0 }, /3 pairs for a bucket of 2/);
  check({ pairs: [pairs[0]], alpha, beta: [1], padId: 0 }, /beta has 1 entries, expected 3/);
  check({ pairs: [pairs[0]], alpha, beta, padId: 0 }, /row 0: 7 tokens exceed seqLen 6/);
  check({ pairs: [{ ...pairs[0], sign: [1, 0, 1] }], alpha, beta, padId: 0 }, /sign must be 3 entries of ±1/);
  check({ pairs: [{ first: row([1], [2, 3, 4]), second: row([1], [5]), sign: [1, 1, 1] }], alpha, beta, padId: 0 }, /more than responseLen 3/);
  check({ pairs: [{ first: row([1], [2]), second: row([1], [5]), sign: [1, 1, 1] }], beta, padId: 0 }, /need α/);
  assert.throws(() => buildArmTrainGraph(config, weights, spec, { batchPairs: 2, seqLen: 100, dtype: "float32", weightsAs: "inputs" }), /exceeds maxSeqLen 64/);
});

test("stories260K: plain gradient descent on the PBLoRA tensors lowers the ARM loss (float32)", async () => {
  const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
  const { loadGguf } = await import("./gguf.ts");
  const model = await loadGguf(new URL("tinyllamas-stories-260k-f32.gguf", dataDir).pathname);
  const golden = JSON.parse((await import("node:fs")).readFileSync(new URL("reference-outputs.json", dataDir), "utf8")) as {
    greedy_from_bos: { token_ids: number[] };
  };
  const story = golden.greedy_from_bos.token_ids;
  const mk = (prompt: number[], response: number[]): ArmRow => {
    const ids = [...prompt, ...response];
    return { ids, labels: ids.map((id, t) => (t < prompt.length ? IGNORE_LABEL : id)) };
  };
  // The model's own continuation is "chosen" for objective 0 and "rejected" for objective 1.
  const twoPairs: ArmPair[] = [
    { first: mk(story.slice(0, 6), story.slice(6, 14)), second: mk(story.slice(0, 6), story.slice(30, 38)), sign: [1, -1] },
    { first: mk(story.slice(0, 10), story.slice(10, 16)), second: mk(story.slice(0, 10), story.slice(50, 56)), sign: [1, -1] },
  ];
  const pb = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
  const graph = buildArmTrainGraph(model.config, model.weights, pb, { batchPairs: 2, seqLen: 16, responseLen: 8, dtype: "float32", weightsAs: "initializers" });
  const session = await createEngineSession(graph, { intraOpNumThreads: 1 });
  const tensors = initAdapterTensors(model.config, pb, mulberry32(4));
  const batchFeeds = armTrainBatchFeeds(graph, { pairs: twoPairs, alpha: [0.7, 0.3], beta: [0.5, 0.5], padId: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 15; step++) {
    const out = await session.run({ ...adapterFeeds(model.config, pb, tensors, "float32"), ...batchFeeds });
    losses.push(num(out.loss)[0]);
    for (const [name, gradName] of graph.gradientNames) {
      const w = tensors.get(name)!;
      const g = out[gradName].data as Float32Array;
      for (let i = 0; i < w.length; i++) w[i] -= 0.05 * g[i];
    }
  }
  await session.release();
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[losses.length - 1] < losses[0] - 1e-3, `loss went from ${losses[0]} to ${losses[losses.length - 1]}`);
});
