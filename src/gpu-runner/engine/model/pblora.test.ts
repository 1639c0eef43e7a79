/**
 * @module engine/model/pblora.test
 * PBLoRA: initialization, one-hot α against an equivalent plain LoRA, the low-rank graph path against the dense
 * ΔW(α) reference with a different α per batch row, and whole-model adapter gradients against finite differences.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendGradients, GraphBuilder, mulberry32, sizeOf, uniformArray } from "../onnx/index.ts";
import { checkGradients, createEngineSession, type HostTensor } from "../session/index.ts";
import type { LlamaConfig, ModelWeights } from "./config.ts";
import {
  buildDecoder,
  buildHead,
  buildLogitsGraph,
  declareAdapterTensors,
  FrozenWeights,
  gatherPositions,
  type AdapterPlacement,
} from "./llama-graph.ts";
import {
  adapterScale,
  adapterTensorName,
  adapterTensorShapes,
  AdapterSpecError,
  initAdapterTensors,
  pbloraSpec,
  validateAdapterSpec,
  type AdapterSpec,
  type PbloraSpec,
} from "./pblora.ts";
import { randomTinyWeights, referenceLogits, tinyConfig } from "./arm-graph-reference.ts";

const config = tinyConfig();
const weights: ModelWeights = randomTinyWeights(config, mulberry32(21));
const spec: PbloraSpec = pbloraSpec({ r1: 2, r2: 3, numObjectives: 3, loraAlpha: 6, targets: ["q", "k", "v", "o", "gate", "up", "down"] });

/** Adapter tensors with a non-zero B (fresh B is zero, which would hide the branch). */
function trainedTensors(s: AdapterSpec, seed: number): Map<string, Float32Array> {
  const random = mulberry32(seed);
  const t = initAdapterTensors(config, s, random);
  for (const [name, data] of t) if (name.endsWith("_B")) for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * 0.3;
  return t;
}

async function adapterLogits(
  s: AdapterSpec,
  placement: AdapterPlacement,
  rows: number[][],
  alpha: number[][] | undefined,
  tensors?: Map<string, Float32Array>,
): Promise<Float64Array[][]> {
  const T = rows[0].length;
  const graph = buildLogitsGraph(config, weights, {
    batch: rows.length,
    seqLen: T,
    positions: T,
    dtype: "float64",
    weightsAs: "initializers",
    adapter: { spec: s, placement },
  });
  const session = await createEngineSession(graph, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const feeds: Record<string, HostTensor> = {
    input_ids: { dtype: "int64", shape: [rows.length, T], data: BigInt64Array.from(rows.flat().map(BigInt)) },
    positions: { dtype: "int64", shape: [rows.length, T], data: BigInt64Array.from(rows.flatMap(() => Array.from({ length: T }, (_, t) => BigInt(t)))) },
  };
  if (alpha) feeds.alpha = { dtype: "float64", shape: [rows.length, alpha[0].length], data: Float64Array.from(alpha.flat()) };
  if (placement.as === "inputs") {
    for (const [name, shape] of adapterTensorShapes(config, s)) feeds[name] = { dtype: "float64", shape, data: Float64Array.from(tensors!.get(name)!) };
  }
  const out = await session.run(feeds);
  await session.release();
  const V = config.vocabSize;
  const data = out.logits.data as Float64Array;
  return rows.map((_, r) => Array.from({ length: T }, (_, t) => data.slice((r * T + t) * V, (r * T + t + 1) * V)));
}

function maxRelDiff(a: Float64Array[][], b: Float64Array[][]): number {
  let m = 0;
  let scale = 0;
  a.forEach((row, r) => row.forEach((v, t) => v.forEach((x, i) => {
    m = Math.max(m, Math.abs(x - b[r][t][i]));
    scale = Math.max(scale, Math.abs(b[r][t][i]));
  })));
  return m / scale;
}

test("init: shapes, zero B, Kaiming-uniform(a=√5) bounds per tensor, seeded", () => {
  const t1 = initAdapterTensors(config, spec, mulberry32(1));
  const t2 = initAdapterTensors(config, spec, mulberry32(1));
  const shapes = adapterTensorShapes(config, spec);
  assert.equal(t1.size, config.nLayers * 7 * 4);
  assert.deepEqual(shapes.get("layers.0.q.pblora_A"), [5, 16]);
  assert.deepEqual(shapes.get("layers.0.k.pblora_B"), [8, 5]);
  assert.deepEqual(shapes.get("layers.1.down.pblora_A"), [5, 24]);
  assert.deepEqual(shapes.get("layers.1.gate.pblora_B"), [24, 5]);
  assert.deepEqual(shapes.get("layers.0.v.pblora_W1"), [2, 2]);
  assert.deepEqual(shapes.get("layers.0.v.pblora_W2"), [3, 9]);
  for (const [name, data] of t1) {
    assert.deepEqual([...data], [...t2.get(name)!], "same seed, same tensors");
    const shape = shapes.get(name)!;
    assert.equal(data.length, sizeOf(shape));
    const maxAbs = Math.max(...data.map(Math.abs));
    if (name.endsWith("_B")) assert.equal(maxAbs, 0, `${name} must start at zero`);
    else {
      const bound = 1 / Math.sqrt(shape[1]);
      assert.ok(maxAbs <= bound && maxAbs > 0.4 * bound, `${name}: max |x| ${maxAbs} vs bound ${bound}`);
    }
  }
  const other = initAdapterTensors(config, spec, mulberry32(2));
  assert.notDeepEqual([...other.get("layers.0.q.pblora_A")!], [...t1.get("layers.0.q.pblora_A")!]);
  assert.equal(adapterScale(spec), 2);
});

test("specs are validated with typed errors", () => {
  assert.deepEqual(pbloraSpec({ numObjectives: 2 }), { mode: "pblora", r1: 4, r2: 4, numObjectives: 2, loraAlpha: 8, targets: ["q", "k", "v"] }, "PARM's reference recipe");
  assert.throws(() => pbloraSpec({ numObjectives: 0 }), (e: unknown) => e instanceof AdapterSpecError && /numObjectives/.test(e.message));
  assert.throws(() => validateAdapterSpec({ mode: "lora", rank: 2, loraAlpha: 4, targets: ["q", "x" as "q"] }), /unknown adapter target "x"/);
  assert.throws(() => validateAdapterSpec({ mode: "pblora", r1: 1, r2: 0, numObjectives: 2, loraAlpha: 1, targets: ["q"] }), /r2 must be/);
});

test("low-rank graph path equals the dense ΔW(α) reference, a different α per batch row", async () => {
  const tensors = trainedTensors(spec, 5);
  const rows = [[1, 5, 9, 3, 30], [1, 7, 7, 2, 11], [1, 20, 21, 22, 23]];
  const alpha = [[0.2, 0.5, 0.3], [1, 0, 0], [0, 0.1, 0.9]];
  const got = await adapterLogits(spec, { as: "inputs" }, rows, alpha, tensors);
  const ref = rows.map((ids, r) => referenceLogits(config, weights, ids, { spec, tensors }, alpha[r]));
  const rel = maxRelDiff(got, ref);
  assert.ok(rel < 1e-12, `max relative difference ${rel}`);
  const base = rows.map((ids) => referenceLogits(config, weights, ids));
  assert.ok(maxRelDiff(got, base) > 1e-3, "the adapter must change the logits");
});

test("one-hot α equals a plain LoRA with middle blockdiag(W1, W2_i)", async () => {
  const tensors = trainedTensors(spec, 9);
  const { r1, r2 } = spec;
  const r = r1 + r2;
  const rows = [[1, 4, 8, 15, 16, 23]];
  for (let objective = 0; objective < spec.numObjectives; objective++) {
    const alpha = [[0, 0, 0]];
    alpha[0][objective] = 1;
    const lora: AdapterSpec = { mode: "lora", rank: r, loraAlpha: (spec.loraAlpha * r) / r2, targets: spec.targets };
    const loraTensors = new Map<string, Float32Array>();
    for (let layer = 0; layer < config.nLayers; layer++) {
      for (const target of spec.targets) {
        const get = (part: string) => tensors.get(adapterTensorName(layer, target, part))!;
        const A = get("pblora_A");
        const n = A.length / r;
        const W1 = get("pblora_W1");
        const W2 = get("pblora_W2").subarray(objective * r2 * r2, (objective + 1) * r2 * r2);
        const middle = (i: number, k: number): number =>
          i < r1 ? (k < r1 ? W1[i * r1 + k] : 0) : k >= r1 ? W2[(i - r1) * r2 + (k - r1)] : 0;
        const loraA = new Float32Array(r * n);
        for (let i = 0; i < r; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += middle(i, k) * A[k * n + j];
          loraA[i * n + j] = s;
        }
        loraTensors.set(adapterTensorName(layer, target, "lora_A"), loraA);
        loraTensors.set(adapterTensorName(layer, target, "lora_B"), get("pblora_B"));
      }
    }
    const pb = await adapterLogits(spec, { as: "initializers", tensors }, rows, alpha);
    const lo = await adapterLogits(lora, { as: "initializers", tensors: loraTensors }, rows, undefined);
    // loraA was rounded to float32 once, so agreement is at float32 resolution of the adapter tensors.
    const rel = maxRelDiff(pb, lo);
    assert.ok(rel < 1e-6, `objective ${objective}: relative difference ${rel}`);
  }
});

test("whole-model adapter gradients (2 layers, GQA, all targets) match finite differences in float64", async () => {
  const tensors = trainedTensors(spec, 13);
  const b = new GraphBuilder("pblora-grad");
  const B = 2;
  const T = 5;
  const ids = b.input("input_ids", "int64", [B, T]);
  const positions = b.input("positions", "int64", [B, 2]);
  const alpha = b.input("alpha", "float64", [B, spec.numObjectives]);
  const values = declareAdapterTensors(b, config, spec, "float64", { as: "inputs" });
  const frozen = new FrozenWeights(b, config, weights, "float64", "initializers");
  const logits = buildHead(b, frozen, gatherPositions(b, buildDecoder(b, config, frozen, ids, { spec, values, alpha }), positions));
  const random = mulberry32(77);
  const weightsR = b.constant("float64", logits.shape, uniformArray(random, sizeOf(logits.shape), -1, 1));
  const loss = b.output(b.reduceSum(b.mul(logits, weightsR), [0, 1, 2], false), "loss");
  const grads = appendGradients(b, loss, [...values.values()]);
  for (const [name, g] of grads) b.output(g, `grad.${name}`);
  const session = await createEngineSession(b.serialize(), { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const feeds: Record<string, HostTensor> = {
    input_ids: { dtype: "int64", shape: [B, T], data: BigInt64Array.from([1, 5, 9, 3, 30, 1, 7, 7, 2, 11].map(BigInt)) },
    positions: { dtype: "int64", shape: [B, 2], data: BigInt64Array.of(4n, 2n, 3n, 1n) },
    alpha: { dtype: "float64", shape: [B, 3], data: Float64Array.of(0.2, 0.5, 0.3, 0.6, 0.1, 0.3) },
  };
  for (const [name, v] of values) feeds[name] = { dtype: "float64", shape: v.shape, data: Float64Array.from(tensors.get(name)!) };
  const results = await checkGradients(
    session,
    feeds,
    [...values.keys()].map((name) => ({ input: name, gradientOutput: `grad.${name}`, lossOutput: "loss" })),
    { maxElementsPerTensor: 4, random: mulberry32(3) },
  );
  await session.release();
  assert.equal(results.length, config.nLayers * 7 * 4);
  const worst = results.reduce((w, r) => (r.relativeL2 > w.relativeL2 ? r : w));
  assert.ok(worst.relativeL2 < 1e-6, `worst ${worst.input}: relative L2 ${worst.relativeL2} at h=${worst.bestStep}`);
  for (const r of results) assert.ok(r.gradientNorm > 0, `${r.input} has a zero gradient sample`);
});
