import { test } from "node:test";
import assert from "node:assert/strict";
import { AdamW, clipGradNorm, OptimizerError } from "./adamw.ts";

const close = (actual: number, expected: number, tol: number, what = "") => assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected}`);

test("three hand-computed torch.optim.AdamW steps (lr 0.1, wd 0.01)", () => {
  const theta = new Float32Array([1, -2]);
  const opt = new AdamW([["w", theta]], { lr: 0.1, weightDecay: 0.01 });
  // Worked by hand from torch's update rule (float64): θ after steps with g = 0.5, −0.25, 2.0.
  const expected = [0.899000002, 0.8714672987058463, 0.8035310672284472];
  [0.5, -0.25, 2.0].forEach((g, i) => {
    opt.step(new Map([["w", new Float32Array([g, 0])]]));
    close(theta[0], expected[i], 2e-7, `step ${i + 1}`);
  });
  // Zero gradient: only decay applies (m = v = 0 ⇒ no Adam term): −2·0.999³.
  close(theta[1], -2 * 0.999 ** 3, 1e-6, "decay only");
  assert.equal(opt.stepCount, 3);
  const state = opt.exportState();
  close(state.moments.get("w")!.m[0], 0.218, 1e-7, "m");
  close(state.moments.get("w")!.v[0], 0.00431193775, 1e-9, "v");
});

test("first step moves each coordinate by ≈ lr·sign(g) whatever |g|; lr override; no decay when λ = 0", () => {
  const p = new Float32Array([0, 0, 0]);
  const opt = new AdamW([["p", p]], { lr: 0.5, weightDecay: 0 });
  opt.step(new Map([["p", new Float32Array([1e-3, -7, 300])]]), 0.01);
  close(p[0], -0.01, 1e-7);
  close(p[1], 0.01, 1e-8);
  close(p[2], -0.01, 1e-8);
});

test("state export/import resumes bit-exactly", () => {
  const grads = (k: number) => new Map([["a", Float32Array.from({ length: 5 }, (_, i) => Math.sin(k * 7 + i))], ["b", new Float32Array([k - 1.5])]]);
  const pa = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5]), pb = new Float32Array([3]);
  const first = new AdamW([["a", pa], ["b", pb]], { lr: 0.05, weightDecay: 0.05 });
  for (let k = 0; k < 3; k++) first.step(grads(k));
  const saved = first.exportState();
  const qa = pa.slice(), qb = pb.slice();
  for (let k = 3; k < 6; k++) first.step(grads(k));
  const second = new AdamW([["a", qa], ["b", qb]]);
  second.importState(saved);
  assert.equal(second.stepCount, 3);
  for (let k = 3; k < 6; k++) second.step(grads(k));
  assert.deepEqual(qa, pa);
  assert.deepEqual(qb, pb);
});

test("bad gradients fail before any parameter changes", () => {
  const p = new Float32Array([1, 2]);
  const opt = new AdamW([["p", p], ["q", new Float32Array(1)]]);
  const code = (c: string, pattern: RegExp) => (e: unknown) => e instanceof OptimizerError && e.code === c && pattern.test(e.message);
  assert.throws(() => opt.step(new Map([["p", new Float32Array(2)]])), code("MISSING_GRADIENT", /\bq\b/));
  assert.throws(() => opt.step(new Map([["p", new Float32Array(3)], ["q", new Float32Array(1)]])), code("SHAPE_MISMATCH", /p has 3/));
  assert.throws(() => opt.step(new Map([["p", new Float32Array([1, NaN])], ["q", new Float32Array(1)]])), code("NON_FINITE_GRADIENT", /p\[1\]/));
  assert.throws(() => opt.step(new Map([["p", new Float32Array(2)], ["q", new Float32Array(1)], ["r", new Float32Array(1)]])), code("UNKNOWN_GRADIENT", /\br\b/));
  assert.deepEqual([...p], [1, 2]);
  assert.equal(opt.stepCount, 0);
  assert.throws(() => new AdamW([["p", p]], { betas: [1, 0.9] }), code("INVALID_OPTIONS", /betas/));
  assert.throws(() => opt.importState({ ...opt.exportState(), moments: new Map() }), code("INVALID_STATE", /no moments/));
});

test("clipGradNorm scales to the max norm and reports the original norm", () => {
  const grads = new Map([["a", new Float32Array([3, 0])], ["b", new Float32Array([4])]]);
  close(clipGradNorm(grads, 1), 5, 1e-12);
  close(Math.hypot(grads.get("a")![0], grads.get("b")![0]), 1, 1e-6);
  const small = new Map([["a", new Float32Array([0.3])]]);
  clipGradNorm(small, 1);
  assert.equal(small.get("a")![0], Math.fround(0.3));
});
