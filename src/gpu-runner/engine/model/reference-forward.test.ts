import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadGguf } from "./gguf.ts";
import type { WeightTensor } from "./config.ts";
import {
  applyRope,
  referenceGreedy,
  referenceLogits,
  referenceNextTokenLogProbs,
  ReferenceForward,
  ReferenceForwardError,
} from "./reference-forward.ts";

const dataDir = new URL("../../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const reference = JSON.parse(readFileSync(new URL("reference-outputs.json", dataDir), "utf8"));
const model = await loadGguf(fileURLToPath(new URL("tinyllamas-stories-260k-f32.gguf", dataDir)));

test("logits for BOS at position 0 match the golden values (rounded to 6 decimals) within 1e-6", () => {
  const [logits] = referenceLogits(model.config, model.weights, [1]);
  const golden: number[] = reference.logits_bos_pos0.logits;
  assert.equal(logits.length, golden.length);
  let maxDiff = 0;
  for (let i = 0; i < golden.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i] - golden[i]));
  assert.ok(maxDiff < 1e-6, `max |Δlogit| = ${maxDiff}`);
  const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 5);
  assert.deepEqual(top, reference.logits_bos_pos0.top5.map((p: [number, number]) => p[0]));
});

test("greedy decoding reproduces the golden continuation of a prompt (ids)", () => {
  const golden = reference.greedy_with_prompt;
  const generated = golden.steps - (golden.prompt_ids.length - 1);
  assert.deepEqual(referenceGreedy(model.config, model.weights, golden.prompt_ids, generated), golden.token_ids);
});

test("greedy decoding from BOS reproduces the 256-token golden sample", () => {
  const golden = reference.greedy_from_bos;
  assert.deepEqual(referenceGreedy(model.config, model.weights, [1], golden.steps), golden.token_ids);
});

test("teacher-forced next-token log-probs match within 1e-6, and their response sum", () => {
  const golden = reference.teacher_forced_logprobs;
  const logProbs = referenceNextTokenLogProbs(model.config, model.weights, golden.full_ids);
  assert.equal(logProbs.length, golden.logprobs_next_token.length);
  for (let t = 0; t < logProbs.length; t++) assert.ok(Math.abs(logProbs[t] - golden.logprobs_next_token[t]) < 1e-6, `t=${t}: ${logProbs[t]} vs ${golden.logprobs_next_token[t]}`);
  const responseSum = logProbs.slice(golden.prompt_ids.length - 1).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(responseSum - golden.sum_logprob_response_tokens) < 1e-6, `${responseSum}`);
});

test("RoPE: both layouts rotate the same pairs up to the permutation, norms are kept", () => {
  const headDim = 8;
  const x = Float64Array.from({ length: headDim }, (_, i) => i + 1);
  const interleaved = Float64Array.from(x);
  applyRope(interleaved, 1, headDim, 3, 10000, "interleaved");
  // Permute interleaved pairs (2j, 2j+1) into rotate-half positions (j, j+4).
  const half = Float64Array.from({ length: headDim }, (_, i) => (i < 4 ? x[2 * i] : x[2 * (i - 4) + 1]));
  applyRope(half, 1, headDim, 3, 10000, "rotate-half");
  for (let j = 0; j < 4; j++) {
    assert.ok(Math.abs(interleaved[2 * j] - half[j]) < 1e-12);
    assert.ok(Math.abs(interleaved[2 * j + 1] - half[j + 4]) < 1e-12);
  }
  // Pair 0 at position 3 rotates by exactly 3 radians.
  assert.ok(Math.abs(interleaved[0] - (1 * Math.cos(3) - 2 * Math.sin(3))) < 1e-12);
  const norm = (v: Float64Array) => Math.hypot(...v);
  assert.ok(Math.abs(norm(interleaved) - norm(x)) < 1e-12);
});

test("projectionDelta adds to projection outputs; zero delta is a no-op", () => {
  const ids = [1, 403, 407];
  const plain = referenceLogits(model.config, model.weights, ids);
  const zero = referenceLogits(model.config, model.weights, ids, { projectionDelta: (_l, _p, x) => new Float64Array(_p === "wo" ? 64 : _p === "wq" ? 64 : 32).fill(0 * x[0]) });
  assert.deepEqual(zero, plain);
  const shifted = referenceLogits(model.config, model.weights, ids, { projectionDelta: (l, p) => (l === 1 && p === "wv" ? new Float64Array(32).fill(0.5) : undefined) });
  assert.ok(Math.abs(shifted[2][403] - plain[2][403]) > 1e-6);
  assert.throws(() => referenceLogits(model.config, model.weights, ids, { projectionDelta: () => new Float64Array(3) }), (e: unknown) => e instanceof ReferenceForwardError && e.code === "BAD_DELTA");
});

test("qkv bias is applied, an untied classifier is used, errors are typed", () => {
  const weights = new Map<string, WeightTensor>(model.weights);
  for (let l = 0; l < model.config.nLayers; l++) {
    weights.set(`layers.${l}.bq`, { shape: [64], data: new Float32Array(64) });
    weights.set(`layers.${l}.bk`, { shape: [32], data: new Float32Array(32) });
    weights.set(`layers.${l}.bv`, { shape: [32], data: new Float32Array(32) });
  }
  const biasConfig = { ...model.config, qkvBias: true };
  const [zeroBias] = referenceLogits(biasConfig, weights, [1]);
  const [plain] = referenceLogits(model.config, model.weights, [1]);
  assert.deepEqual(zeroBias, plain);
  weights.set("layers.0.bv", { shape: [32], data: new Float32Array(32).fill(1) });
  assert.notDeepEqual(referenceLogits(biasConfig, weights, [1])[0], plain);
  const untied = new Map<string, WeightTensor>(model.weights);
  untied.set("output", { shape: [512, 64], data: new Float32Array(512 * 64) });
  const [zeroLogits] = referenceLogits({ ...model.config, tiedEmbeddings: false }, untied, [1]);
  assert.ok(zeroLogits.every((v) => v === 0));
  const forward = new ReferenceForward(model.config, model.weights);
  assert.throws(() => forward.step(512), (e: unknown) => e instanceof ReferenceForwardError && e.code === "TOKEN_ID_OUT_OF_RANGE");
});
