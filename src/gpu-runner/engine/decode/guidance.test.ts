/** @module engine/decode/guidance.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  combineGenArm,
  combineGenArmBatch,
  combineParm,
  combineParmBatch,
  GenArmGuidanceProcessor,
  GuidanceInputError,
  logSoftmax,
  LogitsProcessorList,
  ParmGuidanceProcessor,
  truncateVocab,
  type LogitsProcessor,
} from "./guidance.ts";
import { mulberry32 as rng } from "../onnx/random.ts";


function randomRow(next: () => number, v: number, scale: number): Float32Array {
  return Float32Array.from({ length: v }, () => (next() * 2 - 1) * scale);
}

/** float64 reference: log_softmax over plain arrays. */
function refLogSoftmax(row: ArrayLike<number>): number[] {
  const values = Array.from(row);
  const max = Math.max(...values);
  const lse = max + Math.log(values.reduce((s, x) => s + Math.exp(x - max), 0));
  return values.map((x) => x - lse);
}

function assertRowsClose(actual: Float32Array, expected: readonly number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === -Infinity) {
      assert.equal(actual[i], -Infinity, `${what}[${i}]`);
      continue;
    }
    const bound = tolerance * Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= bound, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function totalProbability(logProbs: Float32Array): number {
  let s = 0;
  for (const x of logProbs) s += Math.exp(x);
  return s;
}

test("logSoftmax matches float64 and is normalized, including huge logits and masked tokens", () => {
  const next = rng(1);
  for (const scale of [1, 30, 1e4]) {
    const row = randomRow(next, 97, scale);
    const out = logSoftmax(row);
    assertRowsClose(out, refLogSoftmax(row), 1e-6, `scale ${scale}`);
    assert.ok(Math.abs(totalProbability(out) - 1) < 1e-5);
  }
  const masked = Float32Array.from([1, -Infinity, 2, -Infinity]);
  const out = logSoftmax(masked);
  assert.equal(out[1], -Infinity);
  assertRowsClose(out, [1 - (2 + Math.log1p(Math.exp(-1))), -Infinity, -Math.log1p(Math.exp(-1)), -Infinity], 1e-7, "masked");
  // Hand value: log_softmax([0, ln 3]) = [ln ¼, ln ¾].
  assertRowsClose(logSoftmax(Float32Array.from([0, Math.log(3)])), [Math.log(0.25), Math.log(0.75)], 1e-7, "hand");
});

test("combineParm = log_softmax(base) + (1/β)·log_softmax(arm), renormalised (float64 reference, product of experts)", () => {
  const next = rng(2);
  for (const beta of [0.05, 0.5, 1, 3]) {
    const base = randomRow(next, 64, 8);
    const arm = randomRow(next, 64, 8);
    const out = combineParm(base, arm, beta);
    const lb = refLogSoftmax(base);
    const la = refLogSoftmax(arm);
    const expected = refLogSoftmax(lb.map((x, i) => x + la[i] / beta));
    assertRowsClose(out, expected, 2e-6, `beta ${beta}`);
    assert.ok(Math.abs(totalProbability(out) - 1) < 1e-5);
    // p̃ ∝ π_base · π_arm^{1/β}
    const product = lb.map((x, i) => Math.exp(x) * Math.exp(la[i]) ** (1 / beta));
    const z = product.reduce((s, p) => s + p, 0);
    assert.ok(z > 0 && Number.isFinite(z));
    product.forEach((p, i) => assert.ok(Math.abs(Math.exp(out[i]) - p / z) < 1e-6, `PoE ${beta} ${i}`));
  }
});

test("language-model-arithmetic equivalence: softmax(((lb + w·la)/(1+w)) / T) with T = 1/(1+w) is our result", () => {
  const next = rng(3);
  const base = randomRow(next, 50, 5);
  const arm = randomRow(next, 50, 5);
  const w = 1; // PARM's decoding weight 1/β = 1
  const lb = refLogSoftmax(base);
  const la = refLogSoftmax(arm);
  const averaged = lb.map((x, i) => (x + w * la[i]) / (1 + w));
  const temperature = 1 / (1 + w);
  const expected = refLogSoftmax(averaged.map((x) => x / temperature));
  assertRowsClose(combineParm(base, arm, 1 / w), expected, 2e-6, "lma");
});

test("β → ∞ recovers the base distribution; one-hot α in GenARM equals PARM with that ARM", () => {
  const next = rng(4);
  const base = randomRow(next, 40, 6);
  const arm = randomRow(next, 40, 6);
  assert.deepEqual(combineParm(base, arm, Infinity), logSoftmax(base));
  assertRowsClose(combineParm(base, arm, 1e9), Array.from(logSoftmax(base)), 1e-6, "large beta");
  const arms = [randomRow(next, 40, 6), arm, randomRow(next, 40, 6)];
  for (const beta of [0.3, 1, 2]) {
    assert.deepEqual(combineGenArm(base, arms, [0, 1, 0], beta), combineParm(base, arm, beta));
  }
  // A masked token in a zero-weight guide does not leak into the result.
  const maskedGuide = Float32Array.from(arms[0]);
  maskedGuide[5] = -Infinity;
  assert.deepEqual(combineGenArm(base, [maskedGuide, arm], [0, 1], 1), combineParm(base, arm, 1));
});

test("combineGenArm = log_softmax(base) + Σ (α_i/β)·log_softmax(arm_i), renormalised", () => {
  const next = rng(5);
  const base = randomRow(next, 33, 4);
  const arms = [randomRow(next, 33, 4), randomRow(next, 33, 4)];
  const alpha = [0.3, 0.7];
  const beta = 0.5;
  const lb = refLogSoftmax(base);
  const l = arms.map(refLogSoftmax);
  const expected = refLogSoftmax(lb.map((x, i) => x + (alpha[0] / beta) * l[0][i] + (alpha[1] / beta) * l[1][i]));
  const out = combineGenArm(base, arms, alpha, beta);
  assertRowsClose(out, expected, 2e-6, "genarm");
  // out may alias base.
  const inPlace = Float32Array.from(base);
  combineGenArm(inPlace, arms, alpha, beta, inPlace);
  assert.deepEqual(inPlace, out);
});

test("masked tokens: −∞ in base stays −∞; disjoint supports are a typed error", () => {
  const base = Float32Array.from([0, -Infinity, 1]);
  const arm = Float32Array.from([2, 3, -Infinity]);
  const out = combineParm(base, arm, 1);
  assert.equal(out[1], -Infinity);
  assert.equal(out[2], -Infinity);
  assert.equal(out[0], 0);
  assert.throws(
    () => combineParm(Float32Array.from([0, -Infinity]), Float32Array.from([-Infinity, 0]), 1),
    (e: unknown) => e instanceof GuidanceInputError && e.code === "NO_FINITE_LOGIT",
  );
});

test("batched variants equal per-row calls with per-row β and α", () => {
  const next = rng(6);
  const batch = 3;
  const v = 20;
  const base = randomRow(next, batch * v, 5);
  const arm = randomRow(next, batch * v, 5);
  const arm2 = randomRow(next, batch * v, 5);
  const betas = [0.5, 1, 2];
  const parm = combineParmBatch(base, arm, batch, betas);
  const alphas = [
    [1, 0],
    [0.5, 0.5],
    [0.2, 0.8],
  ];
  const genArm = combineGenArmBatch(base, [arm, arm2], batch, alphas, betas);
  for (let b = 0; b < batch; b++) {
    const row = (x: Float32Array): Float32Array => x.subarray(b * v, (b + 1) * v);
    assert.deepEqual(row(parm), combineParm(row(base), row(arm), betas[b]));
    assert.deepEqual(row(genArm), combineGenArm(row(base), [row(arm), row(arm2)], alphas[b], betas[b]));
  }
  const shared = combineParmBatch(base, arm, batch, 1);
  assert.deepEqual(shared.subarray(v, 2 * v), parm.subarray(v, 2 * v));
});

test("processors: PARM/GenARM guidance in a LogitsProcessorList rewrite the row in place, in order", () => {
  const next = rng(7);
  const base = randomRow(next, 16, 3);
  const arm = randomRow(next, 16, 3);
  const seen: number[] = [];
  const recorder: LogitsProcessor = { process: (row) => void seen.push(Math.exp(row[0])) };
  const list = new LogitsProcessorList([new ParmGuidanceProcessor(2)]).push(recorder);
  assert.equal(list.length, 2);
  const row = Float32Array.from(base);
  list.process(row, { step: 0, tokenIds: [1, 2], guides: [arm] });
  assert.deepEqual(row, combineParm(base, arm, 2));
  assert.equal(seen[0], Math.exp(row[0]));
  const genRow = Float32Array.from(base);
  new GenArmGuidanceProcessor([0.4, 0.6], 1).process(genRow, { step: 3, tokenIds: [], guides: [arm, base] });
  assert.deepEqual(genRow, combineGenArm(base, [arm, base], [0.4, 0.6], 1));
  assert.throws(
    () => new ParmGuidanceProcessor(1).process(Float32Array.from(base), { step: 0, tokenIds: [] }),
    (e: unknown) => e instanceof GuidanceInputError && e.code === "MISSING_GUIDE",
  );
  assert.throws(
    () => new GenArmGuidanceProcessor([0.5, 0.5], 1).process(Float32Array.from(base), { step: 0, tokenIds: [], guides: [arm] }),
    (e: unknown) => e instanceof GuidanceInputError && /needs 2 guide rows, got 1/.test(e.message),
  );
});

test("truncateVocab keeps the first columns of each row", () => {
  const logits = Float32Array.from([1, 2, 3, 9, 4, 5, 6, 9]);
  assert.deepEqual(truncateVocab(logits, 2, 3), Float32Array.from([1, 2, 3, 4, 5, 6]));
  assert.throws(() => truncateVocab(logits, 2, 5), (e: unknown) => e instanceof GuidanceInputError && e.code === "VOCAB_MISMATCH");
});

test("bad input raises GuidanceInputError naming the argument", () => {
  const ok = Float32Array.from([0, 1, 2]);
  const cases: [() => unknown, string, RegExp][] = [
    [() => logSoftmax(new Float32Array(0)), "EMPTY_ROW", /row is empty/],
    [() => logSoftmax(Float32Array.from([0, NaN])), "NON_FINITE_LOGIT", /row\[1\] is NaN/],
    [() => logSoftmax(Float32Array.from([0, Infinity])), "NON_FINITE_LOGIT", /row\[1\] is Infinity/],
    [() => logSoftmax(Float32Array.from([-Infinity, -Infinity])), "NO_FINITE_LOGIT", /all −∞/],
    [() => combineParm(ok, Float32Array.from([0, 1]), 1), "VOCAB_MISMATCH", /arm has 2 entries, base has 3/],
    [() => combineParm(ok, ok, 0), "INVALID_BETA", /beta must be > 0/],
    [() => combineParm(ok, ok, -1), "INVALID_BETA", /got -1/],
    [() => combineParm(ok, ok, NaN), "INVALID_BETA", /got NaN/],
    [() => combineParm(ok, ok, 5e-324), "INVALID_BETA", /finite 1\/β/],
    [() => combineGenArm(ok, [ok, ok], [0.5], 1), "INVALID_ALPHA", /alpha must hold 2 weights/],
    [() => combineGenArm(ok, [ok, ok], [0.5, -0.1], 1), "INVALID_ALPHA", /alpha\[1\] is -0\.1/],
    [() => combineParmBatch(ok, ok, 2, 1), "SHAPE_MISMATCH", /3 is not a multiple of 2/],
    [() => combineParmBatch(ok, ok, 1, [1, 2]), "SHAPE_MISMATCH", /one value per row \(1\)/],
    [() => combineParmBatch(ok, ok, 1, [0]), "INVALID_BETA", /beta\[0\]/],
    [() => combineGenArmBatch(ok, [ok], 1, [[0.5, 0.5]], 1), "INVALID_ALPHA", /alpha\[0\] must hold 1 weights/],
    [() => combineParm(ok, Float32Array.from([0, NaN, 1]), 1), "NON_FINITE_LOGIT", /arm\[1\] is NaN/],
  ];
  for (const [fn, code, pattern] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof GuidanceInputError && e.code === code && pattern.test(e.message), `${code} ${pattern}`);
  }
});
