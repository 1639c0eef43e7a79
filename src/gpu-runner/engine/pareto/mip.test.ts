/** @module engine/pareto/mip.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { innerProduct, meanInnerProduct, meanRewardVector } from "./mip.ts";
import { simplexGrid } from "./grid.ts";
import { ParetoInputError } from "./errors.ts";

test("MIP = (1/|A|) Σ αᵀ r̄(α), by hand on three points", () => {
  const entries = [
    { alpha: [0, 1], rewards: [-2, 4] }, // 4
    { alpha: [0.5, 0.5], rewards: [1, 3] }, // 2
    { alpha: [1, 0], rewards: [6, -1] }, // 6
  ];
  assert.equal(meanInnerProduct(entries), 4);
  assert.equal(innerProduct([0.25, 0.75], [4, 8]), 7);
});

test("MIP over the 11-point grid with r̄(α) = α·c + d equals c·mean(‖α‖²) + d", () => {
  const grid = simplexGrid(2, 0.1);
  const entries = grid.map((alpha) => ({ alpha, rewards: alpha.map((a) => 3 * a + 1) }));
  const meanSquaredNorm = grid.reduce((s, a) => s + a[0] ** 2 + a[1] ** 2, 0) / grid.length;
  assert.ok(Math.abs(meanInnerProduct(entries) - (3 * meanSquaredNorm + 1)) < 1e-12);
});

test("bad entries raise ParetoInputError naming the entry", () => {
  assert.throws(() => meanInnerProduct([]), (e: unknown) => e instanceof ParetoInputError && e.code === "EMPTY_INPUT");
  assert.throws(
    () => meanInnerProduct([{ alpha: [0.5, 0.6], rewards: [1, 2] }]),
    (e: unknown) => e instanceof ParetoInputError && e.code === "INVALID_ALPHA" && /alpha\[0\] sums to 1\.1/.test(e.message),
  );
  assert.throws(
    () => meanInnerProduct([{ alpha: [1, 0], rewards: [1, 2] }, { alpha: [1, 0, 0], rewards: [1, 2] }]),
    (e: unknown) => e instanceof ParetoInputError && e.code === "INVALID_ALPHA" && /alpha\[1\] must be an array of 2/.test(e.message),
  );
  assert.throws(
    () => meanInnerProduct([{ alpha: [1.5, -0.5], rewards: [1, 2] }]),
    (e: unknown) => e instanceof ParetoInputError && /alpha\[0\]\[1\] is -0\.5/.test(e.message),
  );
});

test("meanRewardVector averages per objective and rejects empty or ragged input", () => {
  assert.deepEqual(meanRewardVector([[1, -2], [3, 4], [2, 7]]), [2, 3]);
  assert.deepEqual(meanRewardVector([[0.5, 0.25, -1]]), [0.5, 0.25, -1]);
  assert.throws(() => meanRewardVector([]), (e: unknown) => e instanceof ParetoInputError && e.code === "EMPTY_INPUT");
  assert.throws(() => meanRewardVector([[1, 2], [3]]), (e: unknown) => e instanceof ParetoInputError && e.code === "DIMENSION_MISMATCH");
});
