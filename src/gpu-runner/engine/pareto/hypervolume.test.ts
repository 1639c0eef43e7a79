/** @module engine/pareto/hypervolume.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeHypervolume, hypervolume, referencePoint } from "./hypervolume.ts";
import { ParetoInputError } from "./errors.ts";
import { mulberry32 as rng } from "../onnx/random.ts";


/** Oracle 1: coordinate-compressed cell counting. Every axis is cut at z and at every point's coordinate; a cell
 *  is covered when some point is strictly better than z everywhere and ≥ the cell's upper corner. */
function hvByCells(points: number[][], z: number[]): number {
  const k = z.length;
  const live = points.filter((p) => p.every((v, i) => v > z[i]));
  if (live.length === 0) return 0;
  const cuts = z.map((zi, d) => [...new Set([zi, ...live.map((p) => p[d])])].sort((a, b) => a - b));
  const index = new Array<number>(k).fill(0);
  let total = 0;
  for (;;) {
    let covered = false;
    for (const p of live) {
      let ok = true;
      for (let d = 0; d < k && ok; d++) if (p[d] < cuts[d][index[d] + 1]) ok = false;
      if (ok) {
        covered = true;
        break;
      }
    }
    if (covered) {
      let v = 1;
      for (let d = 0; d < k; d++) v *= cuts[d][index[d] + 1] - cuts[d][index[d]];
      total += v;
    }
    let d = 0;
    while (d < k) {
      index[d]++;
      if (index[d] < cuts[d].length - 1) break;
      index[d] = 0;
      d++;
    }
    if (d === k) return total;
  }
}

/** Oracle 2: inclusion–exclusion over all non-empty subsets (box of a subset = component-wise minimum). */
function hvByInclusionExclusion(points: number[][], z: number[]): number {
  const live = points.filter((p) => p.every((v, i) => v > z[i]));
  let total = 0;
  for (let mask = 1; mask < 1 << live.length; mask++) {
    const corner = z.map(() => Infinity);
    let size = 0;
    for (let i = 0; i < live.length; i++) {
      if (!(mask & (1 << i))) continue;
      size++;
      for (let d = 0; d < z.length; d++) corner[d] = Math.min(corner[d], live[i][d]);
    }
    let v = 1;
    for (let d = 0; d < z.length; d++) v *= corner[d] - z[d];
    total += size % 2 === 1 ? v : -v;
  }
  return total;
}

function randomIntegerSet(next: () => number, n: number, k: number, max: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: k }, () => Math.floor(next() * (max + 1))));
}

function randomFloatSet(next: () => number, n: number, k: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: k }, () => next() * 4 - 2));
}

/** Points on a sphere cap: all mutually non-dominated, the hard case for HV algorithms. */
function randomSpherePoints(next: () => number, n: number, k: number): number[][] {
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: k }, () => Math.abs(next() - 0.5) + 1e-3);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

function assertClose(actual: number, expected: number, relative: number, message: string): void {
  const scale = Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= relative * scale, `${message}: got ${actual}, expected ${expected}`);
}

const CASES: { k: number; sets: number; maxN: number }[] = [
  { k: 2, sets: 300, maxN: 25 },
  { k: 3, sets: 300, maxN: 20 },
  { k: 4, sets: 150, maxN: 11 },
  { k: 5, sets: 80, maxN: 8 },
];

for (const { k, sets, maxN } of CASES) {
  test(`k=${k}: exact on ${sets} random integer sets (ties, dominated points, points on z) vs cell counting`, () => {
    const next = rng(1000 + k);
    for (let s = 0; s < sets; s++) {
      const n = 1 + Math.floor(next() * maxN);
      const points = randomIntegerSet(next, n, k, 6);
      const z = new Array<number>(k).fill(1);
      const expected = hvByCells(points, z);
      assert.equal(hypervolume(points, z), expected, `set ${s}: ${JSON.stringify(points)}`);
    }
  });

  test(`k=${k}: random float sets (negatives, ref below) agree with inclusion–exclusion and cell counting`, () => {
    const next = rng(2000 + k);
    for (let s = 0; s < sets; s++) {
      const n = 1 + Math.floor(next() * Math.min(maxN, 10));
      const points = next() < 0.5 ? randomFloatSet(next, n, k) : randomSpherePoints(next, n, k);
      const z = new Array<number>(k).fill(next() < 0.5 ? -1.5 : 0);
      const actual = hypervolume(points, z);
      assertClose(actual, hvByInclusionExclusion(points, z), 1e-10, `set ${s} vs inclusion–exclusion`);
      assertClose(actual, hvByCells(points, z), 1e-10, `set ${s} vs cells`);
    }
  });
}

test("edge cases: empty set, single point, points on or below z, duplicates, k = 1", () => {
  assert.equal(hypervolume([], [0, 0]), 0);
  assert.equal(hypervolume([[3, 2]], [1, 1]), 2);
  assert.equal(hypervolume([[3, 2, 5]], [1, 1, 1]), 2 * 1 * 4);
  assert.equal(hypervolume([[3, 2, 5, 2]], [1, 1, 1, 0]), 2 * 1 * 4 * 2);
  // On z in one objective: an empty box, even though the other objectives are far better.
  assert.equal(hypervolume([[1, 100]], [1, 1]), 0);
  assert.equal(hypervolume([[5, 5, 0]], [0, 0, 0]), 0);
  assert.equal(hypervolume([[-1, 9]], [0, 0]), 0);
  assert.equal(hypervolume([[2, 2], [2, 2], [2, 2]], [0, 0]), 4);
  assert.equal(hypervolume([[2, 2, 2, 2], [2, 2, 2, 2]], [0, 0, 0, 0]), 16);
  assert.equal(hypervolume([[3], [5], [1]], [2]), 3);
  // Two boxes overlapping in a 1×1 square.
  assert.equal(hypervolume([[2, 1], [1, 2]], [0, 0]), 3);
});

test("homogeneity and translation: HV(c·P + t; c·z + t) = c^k · HV(P; z)", () => {
  const next = rng(77);
  for (const k of [2, 3, 4, 5]) {
    const points = randomFloatSet(next, 8, k);
    const z = new Array<number>(k).fill(-2);
    const base = hypervolume(points, z);
    const moved = points.map((p) => p.map((v, i) => 3 * v + i - 7));
    const movedZ = z.map((v, i) => 3 * v + i - 7);
    assertClose(hypervolume(moved, movedZ), 3 ** k * base, 1e-10, `k=${k}`);
  }
});

test("dense points on the unit sphere approach the ball's orthant volume (π/4, π/6) from below, quickly", () => {
  const next = rng(5);
  const started = performance.now();
  const v2 = hypervolume(randomSpherePoints(next, 20000, 2), [0, 0]);
  assert.ok(v2 < Math.PI / 4 && v2 > Math.PI / 4 - 1e-3, `k=2: ${v2}`);
  const v3 = hypervolume(randomSpherePoints(next, 2000, 3), [0, 0, 0]);
  assert.ok(v3 < Math.PI / 6 && v3 > 0.95 * (Math.PI / 6), `k=3: ${v3}`);
  // k = 4 orthant of the unit ball: π²/32; 150 points reach well over half of it.
  const v4 = hypervolume(randomSpherePoints(next, 150, 4), [0, 0, 0, 0]);
  assert.ok(v4 < Math.PI ** 2 / 32 && v4 > 0.5 * (Math.PI ** 2 / 32), `k=4: ${v4}`);
  const v5 = hypervolume(randomSpherePoints(next, 60, 5), [0, 0, 0, 0, 0]);
  assert.ok(v5 > 0 && v5 < (8 * Math.PI ** 2) / 15 / 32, `k=5: ${v5}`);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 5000, `took ${elapsed} ms`);
});

test("referencePoint: explicit is echoed; min-minus-margin = min − margin·(max − min), stated fallback span", () => {
  const points = [
    [1, 10],
    [3, 4],
    [2, 6],
  ];
  assert.deepEqual(referencePoint(points, { rule: "explicit", point: [0, 0] }), [0, 0]);
  assert.deepEqual(referencePoint(points, { rule: "min-minus-margin", margin: 0.5 }), [1 - 0.5 * 2, 4 - 0.5 * 6]);
  // Every point shares objective 0 (= −4): span falls back to max(|−4|, 1) = 4.
  assert.deepEqual(referencePoint([[-4, 1], [-4, 2]], { rule: "min-minus-margin", margin: 0.25 }), [-5, 1 - 0.25]);
  assert.deepEqual(referencePoint([[0.5, 2]], { rule: "min-minus-margin", margin: 1 }), [-0.5, 0]);
});

test("computeHypervolume carries z, the rule and the contributing indices", () => {
  const points = [
    [1, 10],
    [3, 4],
    [2, 6],
  ];
  const result = computeHypervolume(points, { rule: "min-minus-margin", margin: 0.1 });
  assert.deepEqual(result.rule, { rule: "min-minus-margin", margin: 0.1 });
  assert.equal(result.referencePoint.length, 2);
  assert.equal(result.hypervolume, hypervolume(points, result.referencePoint));
  assert.deepEqual(result.contributingIndices, [0, 1, 2]);
  const explicit = computeHypervolume(points, { rule: "explicit", point: [2, 5] });
  assert.deepEqual(explicit.referencePoint, [2, 5]);
  assert.deepEqual(explicit.contributingIndices, []);
  assert.equal(explicit.hypervolume, 0);
  const withHit = computeHypervolume(points, { rule: "explicit", point: [1.5, 3] });
  assert.deepEqual(withHit.contributingIndices, [1, 2]);
  // Boxes 1.5×1 and 0.5×3 overlap in 0.5×1.
  assert.equal(withHit.hypervolume, 1.5 * 1 + 0.5 * 3 - 0.5 * 1);
});

test("bad input raises ParetoInputError naming the problem", () => {
  const expectCode = (fn: () => unknown, code: string, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ParetoInputError);
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      return true;
    });
  };
  expectCode(() => hypervolume([[1, 2, 3]], [0, 0]), "DIMENSION_MISMATCH", /points\[0\] has 3 objectives, expected 2/);
  expectCode(() => hypervolume([[1, NaN]], [0, 0]), "NON_FINITE_VALUE", /points\[0\]\[1\] is NaN/);
  expectCode(() => hypervolume([[1, 2]], [0, Infinity]), "NON_FINITE_VALUE", /referencePoint\[0\]\[1\]/);
  expectCode(() => referencePoint([], { rule: "min-minus-margin", margin: 0.1 }), "EMPTY_INPUT", /at least one point/);
  expectCode(() => referencePoint([[1, 2]], { rule: "min-minus-margin", margin: -1 }), "INVALID_REFERENCE_RULE", /margin/);
  expectCode(
    () => referencePoint([[1, 2]], { rule: "median" } as never),
    "INVALID_REFERENCE_RULE",
    /unknown reference rule "median"/,
  );
});
