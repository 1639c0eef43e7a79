import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, RngError } from "./rng.ts";

test("xoshiro128** matches the reference stream for state [1, 2, 3, 4] and splitmix32 seeding", () => {
  const rng = Rng.fromState({ algorithm: "xoshiro128**", words: [1, 2, 3, 4] });
  // Values from an independent Python transliteration of the reference C code.
  assert.deepEqual(Array.from({ length: 6 }, () => rng.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  assert.deepEqual(new Rng(42).exportState().words, [939911724, 3948730756, 321366731, 3317318717]);
});

test("same seed, same stream; state export/import resumes exactly (through JSON)", () => {
  const a = new Rng(7);
  const b = new Rng(7);
  for (let i = 0; i < 10; i++) assert.equal(a.uniform(), b.uniform());
  a.dirichlet(0.5, 3);
  const saved = JSON.parse(JSON.stringify(a.exportState()));
  const expected = [a.uniform(), a.normal(), a.gamma(0.7), ...a.dirichlet(0.5, 4), a.int(10)];
  const resumed = Rng.fromState(saved);
  assert.deepEqual([resumed.uniform(), resumed.normal(), resumed.gamma(0.7), ...resumed.dirichlet(0.5, 4), resumed.int(10)], expected);
  assert.notEqual(new Rng(8).uniform(), new Rng(7).uniform());
});

function moments(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) };
}

test("uniform, normal and gamma have the right first two moments (n = 40000, fixed seed)", () => {
  const rng = new Rng(123);
  const n = 40000;
  const u = moments(Array.from({ length: n }, () => rng.uniform()));
  assert.ok(Math.abs(u.mean - 0.5) < 0.01 && Math.abs(u.variance - 1 / 12) < 0.003, JSON.stringify(u));
  const z = moments(Array.from({ length: n }, () => rng.normal()));
  assert.ok(Math.abs(z.mean) < 0.02 && Math.abs(z.variance - 1) < 0.03, JSON.stringify(z));
  for (const shape of [0.5, 1, 3.5]) {
    const g = moments(Array.from({ length: n }, () => rng.gamma(shape)));
    // Gamma(shape, 1): mean = variance = shape.
    assert.ok(Math.abs(g.mean - shape) < 0.04 * Math.max(1, shape), `shape ${shape}: ${JSON.stringify(g)}`);
    assert.ok(Math.abs(g.variance - shape) < 0.08 * Math.max(1, shape), `shape ${shape}: ${JSON.stringify(g)}`);
  }
});

test("dirichlet lies on the simplex with mean 1/k and variance (1/k)(1−1/k)/(kp+1)", () => {
  const rng = new Rng(5);
  const k = 3, p = 0.5, n = 20000;
  const first: number[] = [];
  for (let i = 0; i < n; i++) {
    const alpha = rng.dirichlet(p, k);
    assert.equal(alpha.length, k);
    assert.ok(alpha.every((a) => a >= 0));
    assert.ok(Math.abs(alpha.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    first.push(alpha[0]);
  }
  const m = moments(first);
  assert.ok(Math.abs(m.mean - 1 / 3) < 0.01, `${m.mean}`);
  const expectedVariance = (1 / 3) * (2 / 3) / (k * p + 1);
  assert.ok(Math.abs(m.variance - expectedVariance) < 0.006, `${m.variance} vs ${expectedVariance}`);
  const skewed = moments(Array.from({ length: 5000 }, () => rng.dirichlet([4, 1])[0]));
  assert.ok(Math.abs(skewed.mean - 0.8) < 0.01, `${skewed.mean}`);
  const tiny = rng.dirichlet(1e-300, 2);
  assert.ok(Math.abs(tiny[0] + tiny[1] - 1) < 1e-12);
});

test("int is in range and covers it; shuffle is a permutation", () => {
  const rng = new Rng(9);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[rng.int(6)]++;
  assert.ok(counts.every((c) => c > 900 && c < 1100), JSON.stringify(counts));
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual([...shuffled].sort((a, b) => a - b), items);
});

test("bad arguments are typed errors", () => {
  assert.throws(() => new Rng(-1), (e: unknown) => e instanceof RngError && e.code === "INVALID_SEED");
  assert.throws(() => new Rng(1.5), RngError);
  assert.throws(() => Rng.fromState({ algorithm: "xoshiro128**", words: [0, 0, 0, 0] }), (e: unknown) => e instanceof RngError && e.code === "INVALID_STATE");
  assert.throws(() => Rng.fromState({ algorithm: "pcg" } as never), RngError);
  const rng = new Rng(1);
  assert.throws(() => rng.gamma(0), (e: unknown) => e instanceof RngError && e.code === "INVALID_ARGUMENT");
  assert.throws(() => rng.dirichlet(0.5), /integer k/);
  assert.throws(() => rng.int(0), RngError);
});
