/** @module engine/train/evaluate-pairs.test
 * Held-out evaluation: loss/accuracy summaries against hand-computed values, score-graph margins against the
 * float64 TypeScript reference (PBLoRA at two α, plain LoRA), and GenARM's α-combination of per-ARM margins.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../onnx/index.ts";
import { randomTinyWeights, referenceSequenceLogprob, tinyConfig } from "../model/arm-graph-reference.ts";
import type { ModelWeights } from "../model/config.ts";
import { initAdapterTensors, pbloraSpec, type AdapterSpec } from "../model/pblora.ts";
import type { PairTokenizer } from "./pairs.ts";
import { evaluateGenarmAdapters, PairScorer, simplexVertices, summarizeMargins } from "./evaluate-pairs.ts";
import { preparePairs } from "./trainer-data.ts";

const config = tinyConfig();
const weights: ModelWeights = randomTinyWeights(config, mulberry32(3));
const tokenizer: PairTokenizer = { bosId: 1, eosId: 2, encode: (text) => Array.from(text, (c) => 3 + (c.charCodeAt(0) % 30)) };
const prepared = preparePairs(
  tokenizer,
  [
    { prompt: "hello", responses: ["abc", "de"], preferred: [0, 1] },
    { prompt: "hi", responses: ["xyzw", "q"], preferred: [1, null] },
    { prompt: "a longer prompt", responses: ["mm", "nnnnn"], preferred: [null, 0] },
  ],
  2,
  { maxLength: 24, maxPromptLength: 12, truncation: "TRL", buckets: [12, 24] },
);

function tensorsFor(spec: AdapterSpec, seed: number): Map<string, Float32Array> {
  const random = mulberry32(seed);
  const t = initAdapterTensors(config, spec, random);
  for (const [name, d] of t) if (name.endsWith("_B")) for (let i = 0; i < d.length; i++) d[i] = (2 * random() - 1) * 0.3;
  return t;
}

describe("summarizeMargins", () => {
  test("loss is mean softplus(−β s m) and ties count ½, per objective over its labelled pairs", () => {
    const margins = [2, 0, -1];
    const [o0, o1] = summarizeMargins(margins, prepared, [0.5, 2]);
    const sp = (z: number) => Math.log1p(Math.exp(z));
    // objective 0: pair 0 (s=+1, m=2) and pair 1 (s=−1, m=0)
    assert.equal(o0.pairs, 2);
    assert.ok(Math.abs(o0.loss - (sp(-0.5 * 2) + sp(0)) / 2) < 1e-12);
    assert.equal(o0.accuracy, (1 + 0.5) / 2);
    // objective 1: pair 0 (s=−1, m=2) and pair 2 (s=+1, m=−1)
    assert.equal(o1.pairs, 2);
    assert.ok(Math.abs(o1.loss - (sp(2 * 2) + sp(2 * 1)) / 2) < 1e-12);
    assert.equal(o1.accuracy, 0);
  });

  test("an objective without pairs reports NaN", () => {
    const [, o1] = summarizeMargins([1], prepared.slice(1, 2), [1, 1]);
    assert.equal(o1.pairs, 0);
    assert.ok(Number.isNaN(o1.loss) && Number.isNaN(o1.accuracy));
  });
});

describe("PairScorer", () => {
  test("PBLoRA margins at two α equal the float64 reference (float32 graph, batch of 2 over 3 pairs, 2 buckets)", async () => {
    const spec = pbloraSpec({ r1: 2, r2: 2, numObjectives: 2, loraAlpha: 4 });
    const tensors = tensorsFor(spec, 8);
    const scorer = new PairScorer({ config, weights, spec, batchPairs: 2, padId: 2, threads: 1 });
    try {
      for (const alpha of [[1, 0], [0.3, 0.7]]) {
        const margins = await scorer.margins(prepared, tensors, alpha);
        prepared.forEach((p, i) => {
          const ref =
            referenceSequenceLogprob(config, weights, p.arm.first.ids, p.arm.first.labels, { spec, tensors }, alpha) -
            referenceSequenceLogprob(config, weights, p.arm.second.ids, p.arm.second.labels, { spec, tensors }, alpha);
          assert.ok(Math.abs(margins[i] - ref) < 1e-4 * (1 + Math.abs(ref)), `pair ${i} at α ${alpha}: ${margins[i]} vs ${ref}`);
        });
      }
      await assert.rejects(scorer.margins(prepared, tensors, [1]), /α must have 2/);
    } finally {
      await scorer.release();
    }
  });

  test("GenARM combines per-ARM margins linearly in α; at e_i it is ARM i", async () => {
    const spec: AdapterSpec = { mode: "lora", rank: 2, loraAlpha: 2, targets: ["q", "v"] };
    const arms = [tensorsFor(spec, 1), tensorsFor(spec, 2)];
    const scorers = arms.map(() => new PairScorer({ config, weights, spec, batchPairs: 4, padId: 2, threads: 1 }));
    try {
      const single = await Promise.all(arms.map((t, j) => scorers[j].margins(prepared, t)));
      const [e0, e1, mid] = await evaluateGenarmAdapters(scorers, arms, prepared, [1, 1], [...simplexVertices(2), [0.25, 0.75]]);
      assert.deepEqual(e0.objectives, summarizeMargins(single[0], prepared, [1, 1]));
      assert.deepEqual(e1.objectives, summarizeMargins(single[1], prepared, [1, 1]));
      assert.deepEqual(mid.objectives, summarizeMargins(single[0].map((m, p) => 0.25 * m + 0.75 * single[1][p]), prepared, [1, 1]));
      assert.notDeepEqual(Array.from(single[0]), Array.from(single[1]));
    } finally {
      for (const s of scorers) await s.release();
    }
  });
});
