/** @module engine/pareto/grid.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { divisionsForStep, simplexGrid, simplexGridByDivisions, simplexGridSize } from "./grid.ts";
import { ParetoInputError } from "./errors.ts";

test("k=2, step 0.1: the paper's 11 vectors in order (0,1), (0.1,0.9), …, (1,0), entries exactly c/10", () => {
  const grid = simplexGrid(2, 0.1);
  assert.equal(grid.length, 11);
  for (let c = 0; c <= 10; c++) assert.deepEqual(grid[c], [c / 10, (10 - c) / 10]);
  assert.deepEqual(grid[0], [0, 1]);
  assert.deepEqual(grid[3], [0.3, 0.7]);
  assert.equal(grid[3][0], 0.3); // not 0.30000000000000004 as 0.1+0.1+0.1 would give
  assert.deepEqual(grid[10], [1, 0]);
});

test("k=3, step 0.5 in lexicographic order of counts", () => {
  assert.deepEqual(simplexGrid(3, 0.5), [
    [0, 0, 1],
    [0, 0.5, 0.5],
    [0, 1, 0],
    [0.5, 0, 0.5],
    [0.5, 0.5, 0],
    [1, 0, 0],
  ]);
});

test("size is C(n+k−1, k−1), vectors are distinct, non-negative multiples of the step summing to 1", () => {
  for (const [k, step] of [
    [1, 0.5],
    [2, 0.25],
    [3, 0.1],
    [4, 0.2],
    [5, 1 / 6],
  ] as const) {
    const grid = simplexGrid(k, step);
    const n = divisionsForStep(step);
    assert.equal(grid.length, simplexGridSize(k, n), `k=${k} step=${step}`);
    const seen = new Set<string>();
    for (const alpha of grid) {
      assert.equal(alpha.length, k);
      let countSum = 0;
      for (const a of alpha) {
        assert.ok(a >= 0 && a <= 1);
        const count = Math.round(a * n);
        assert.equal(a, count / n);
        countSum += count;
      }
      assert.equal(countSum, n);
      assert.ok(Math.abs(alpha.reduce((s, a) => s + a, 0) - 1) < 1e-12);
      seen.add(alpha.join(","));
    }
    assert.equal(seen.size, grid.length);
  }
  assert.equal(simplexGridSize(3, 10), 66);
  assert.equal(simplexGridSize(4, 10), 286);
  // Lexicographic order of the counts is strictly increasing.
  const grid = simplexGridByDivisions(4, 3);
  for (let i = 1; i < grid.length; i++) {
    const a = grid[i - 1];
    const b = grid[i];
    const firstDiff = a.findIndex((v, j) => v !== b[j]);
    assert.ok(firstDiff >= 0 && a[firstDiff] < b[firstDiff]);
  }
});

test("bad steps and sizes raise ParetoInputError", () => {
  const expectCode = (fn: () => unknown, code: string, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => error instanceof ParetoInputError && error.code === code && pattern.test(error.message));
  };
  expectCode(() => simplexGrid(2, 0.3), "INVALID_STEP", /step 0\.3 does not divide 1 evenly/);
  expectCode(() => simplexGrid(2, 0), "INVALID_STEP", /step must be a finite number in \(0, 1\]/);
  expectCode(() => simplexGrid(2, 1.5), "INVALID_STEP", /got 1\.5/);
  expectCode(() => simplexGrid(2, NaN), "INVALID_STEP", /got NaN/);
  expectCode(() => simplexGrid(0, 0.1), "INVALID_OBJECTIVE_COUNT", /got 0/);
  expectCode(() => simplexGrid(2.5, 0.1), "INVALID_OBJECTIVE_COUNT", /got 2\.5/);
  expectCode(() => simplexGridByDivisions(2, 2.5), "INVALID_STEP", /divisions must be an integer/);
  expectCode(() => simplexGrid(10, 0.01), "GRID_TOO_LARGE", /k=10, 100 divisions has \d+ vectors/);
  expectCode(() => simplexGrid(3, 0.1, { maxPoints: 65 }), "GRID_TOO_LARGE", /66 vectors, above maxPoints=65/);
  assert.equal(simplexGrid(3, 0.1, { maxPoints: 66 }).length, 66);
  assert.equal(divisionsForStep(0.05), 20);
  assert.equal(divisionsForStep(1 / 3), 3);
});
