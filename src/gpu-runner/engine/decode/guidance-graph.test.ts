/**
 * @module engine/decode/guidance-graph.test
 * The guidance + selection graph against guidance.ts's float64 combinations and a sort: PARM (1/β), GenARM
 * (α_i/β per row) and unguided rows; top-k ids in order with their renormalised log-probs; K = 1 is argmax.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { createEngineSession, type HostTensor } from "../session/index.ts";
import { buildGuidanceGraph, GUIDANCE_GRAPH, GuidanceGraphError } from "./guidance-graph.ts";
import { combineGenArmBatch, combineParmBatch, logSoftmax } from "./guidance.ts";
import { argmax } from "./sampling.ts";

const B = 3;
const V = 97;
const random = mulberry32(11);
const logits = (scale: number) => Float32Array.from({ length: B * V }, () => scale * (2 * random() - 1));
const base = logits(6);
const guides = [logits(4), logits(5)];

async function runGraph(guideCount: number, weights: number[][], topK: number): Promise<{ values: Float32Array; ids: BigInt64Array }> {
  const session = await createEngineSession(buildGuidanceGraph({ batch: B, vocab: V, guides: guideCount, topK }), { intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, HostTensor> = { [GUIDANCE_GRAPH.baseLogits]: { dtype: "float32", shape: [B, V], data: base } };
    for (let i = 0; i < guideCount; i++) feeds[GUIDANCE_GRAPH.guideLogits(i)] = { dtype: "float32", shape: [B, V], data: guides[i] };
    if (guideCount > 0) feeds[GUIDANCE_GRAPH.guideWeights] = { dtype: "float32", shape: [B, guideCount], data: Float32Array.from(weights.flat()) };
    const out = await session.run(feeds);
    return { values: out[GUIDANCE_GRAPH.topLogprobs].data as Float32Array, ids: out[GUIDANCE_GRAPH.topIds].data as BigInt64Array };
  } finally {
    await session.release();
  }
}

/** The K best (id, value) of each row of a reference [B, V], descending. */
function referenceTopK(scores: Float32Array, k: number): { id: number; value: number }[][] {
  return Array.from({ length: B }, (_, r) =>
    Array.from(scores.subarray(r * V, (r + 1) * V), (value, id) => ({ id, value }))
      .sort((a, b) => b.value - a.value || a.id - b.id)
      .slice(0, k),
  );
}

function assertMatches(got: { values: Float32Array; ids: BigInt64Array }, reference: Float32Array, k: number): void {
  referenceTopK(reference, k).forEach((row, r) =>
    row.forEach(({ id, value }, j) => {
      assert.equal(Number(got.ids[r * k + j]), id, `row ${r} candidate ${j}`);
      assert.ok(Math.abs(got.values[r * k + j] - value) < 1e-5, `row ${r} candidate ${j}: ${got.values[r * k + j]} vs ${value}`);
    }),
  );
}

test("PARM rows (weight 1/β per row) equal combineParmBatch: top-5 ids in order and their log-probs", async () => {
  const betas = [1, 0.5, 4];
  const reference = combineParmBatch(base, guides[0], B, betas);
  assertMatches(await runGraph(1, betas.map((b) => [1 / b]), 5), reference, 5);
});

test("GenARM rows (α_i/β) equal combineGenArmBatch; K = 1 is the argmax of each row", async () => {
  const alpha = [[1, 0], [0.3, 0.7], [0.5, 0.5]];
  const beta = 0.8;
  const reference = combineGenArmBatch(base, guides, B, alpha, beta);
  assertMatches(await runGraph(2, alpha.map((a) => a.map((x) => x / beta)), 4), reference, 4);
  const greedy = await runGraph(2, alpha.map((a) => a.map((x) => x / beta)), 1);
  for (let r = 0; r < B; r++) assert.equal(Number(greedy.ids[r]), argmax(reference.subarray(r * V, (r + 1) * V)));
});

test("unguided: log_softmax(base); bad shapes are a GuidanceGraphError", async () => {
  const reference = new Float32Array(B * V);
  for (let r = 0; r < B; r++) logSoftmax(base.subarray(r * V, (r + 1) * V), reference.subarray(r * V, (r + 1) * V));
  assertMatches(await runGraph(0, [], 3), reference, 3);
  assert.throws(() => buildGuidanceGraph({ batch: 1, vocab: 4, guides: 0, topK: 5 }), GuidanceGraphError);
  assert.throws(() => buildGuidanceGraph({ batch: 0, vocab: 4, guides: 0, topK: 1 }), /batch must be an integer >= 1/);
});
