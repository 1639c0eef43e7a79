/** @module engine/decode/guidance-real-logits.test
 *  Guidance and sampling on real next-token logits: tinyllamas stories260K at BOS (shared/data, read-only). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { combineGenArm, combineParm, logSoftmax } from "./guidance.ts";
import { applyTopK, applyTopP, argmax, TokenSampler } from "./sampling.ts";

const reference = JSON.parse(
  readFileSync(new URL("../../../../../shared/data/tinyllamas-stories260k/reference-outputs.json", import.meta.url), "utf8"),
) as { logits_bos_pos0: { top5: [number, number][]; logits: number[] } };
const logits = Float32Array.from(reference.logits_bos_pos0.logits);
const top5 = reference.logits_bos_pos0.top5;

function entropy(logProbs: Float32Array): number {
  let h = 0;
  for (const lp of logProbs) if (lp > -Infinity) h -= Math.exp(lp) * lp;
  return h;
}

test("real logits: greedy and top-k agree with the reference top-5; log-probs are normalized", () => {
  assert.equal(logits.length, 512);
  assert.equal(argmax(logits), top5[0][0]);
  const logProbs = logSoftmax(logits);
  let total = 0;
  for (const lp of logProbs) total += Math.exp(lp);
  assert.ok(Math.abs(total - 1) < 1e-5);
  const masked = applyTopK(Float32Array.from(logits), 5);
  assert.deepEqual(
    [...masked.keys()].filter((i) => masked[i] !== -Infinity),
    top5.map(([id]) => id).sort((a, b) => a - b),
  );
  // The nucleus at p = 0.5 is a prefix of the reference ranking.
  const nucleus = applyTopP(Float32Array.from(logits), 0.5);
  const nucleusIds = [...nucleus.keys()].filter((i) => nucleus[i] !== -Infinity);
  assert.ok(nucleusIds.length >= 1 && nucleusIds.length <= 5);
  assert.deepEqual(new Set(nucleusIds), new Set(top5.slice(0, nucleusIds.length).map(([id]) => id)));
});

test("real logits: guiding a model by itself sharpens it (p² renormalised), keeps the argmax, β → ∞ undoes it", () => {
  const base = logSoftmax(logits);
  const guided = combineParm(logits, logits, 1);
  assert.equal(argmax(guided), top5[0][0]);
  assert.ok(entropy(guided) < entropy(base));
  // log p̃ = 2·log p − logsumexp(2·log p), checked in float64.
  const doubled = Array.from(base, (lp) => 2 * lp);
  const max = Math.max(...doubled);
  const lse = max + Math.log(doubled.reduce((s, x) => s + Math.exp(x - max), 0));
  doubled.forEach((x, i) => assert.ok(Math.abs(guided[i] - (x - lse)) < 1e-4 * Math.max(1, Math.abs(x - lse)), `token ${i}`));
  assert.deepEqual(combineParm(logits, logits, Infinity), base);
  // A guide that prefers the runner-up (its logit boosted by 10) moves greedy decoding there at small β only.
  const guide = Float32Array.from(logits);
  guide[top5[1][0]] += 10;
  assert.equal(argmax(combineParm(logits, guide, 1)), top5[1][0]);
  assert.equal(argmax(combineParm(logits, guide, 100)), top5[0][0]);
  assert.equal(argmax(combineGenArm(logits, [logits, guide], [0.5, 0.5], 1)), top5[1][0]);
});

test("real logits: a seeded sampler is reproducible and draws mostly the likeliest tokens", () => {
  const draw = (seed: number): number[] => {
    const sampler = new TokenSampler({ kind: "sample", temperature: 1, topP: 0.9, seed });
    return Array.from({ length: 300 }, () => sampler.next(logits));
  };
  const first = draw(2024);
  assert.deepEqual(draw(2024), first);
  const top1Share = first.filter((id) => id === top5[0][0]).length / first.length;
  const p1 = Math.exp(logSoftmax(logits)[top5[0][0]]);
  // The nucleus renormalises, so the share is at least p1 (binomial noise allowed: 300 draws, ±4σ).
  assert.ok(top1Share > p1 - 4 * Math.sqrt((p1 * (1 - p1)) / 300), `share ${top1Share} vs p ${p1}`);
});
