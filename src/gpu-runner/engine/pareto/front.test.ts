/** @module engine/pareto/front.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dominates, paretoFront, paretoFrontIndices } from "./front.ts";
import { ParetoInputError } from "./errors.ts";

test("dominates: ≥ everywhere and > somewhere (maximization)", () => {
  assert.equal(dominates([2, 2], [1, 2]), true);
  assert.equal(dominates([2, 2], [2, 2]), false);
  assert.equal(dominates([3, 1], [1, 3]), false);
  assert.equal(dominates([1, 2], [2, 2]), false);
  assert.equal(dominates([0, 0, 1], [0, 0, 0]), true);
});

test("front keeps indices, drops dominated points, handles negatives", () => {
  const points = [
    [1, 5], // 0 front
    [2, 4], // 1 front
    [1.5, 3.9], // 2 dominated by 1
    [3, 1], // 3 front
    [-1, -1], // 4 dominated
    [3, 0.5], // 5 dominated by 3 (equal first objective)
  ];
  assert.deepEqual(paretoFrontIndices(points), [0, 1, 3]);
  assert.deepEqual(paretoFront(points), [
    { index: 0, point: [1, 5] },
    { index: 1, point: [2, 4] },
    { index: 3, point: [3, 1] },
  ]);
  assert.deepEqual(paretoFrontIndices([]), []);
  assert.deepEqual(paretoFrontIndices([[7, 7, 7]]), [0]);
});

test("duplicates: keep-all keeps every copy of a non-dominated point; keep-first only the first", () => {
  const points = [
    [1, 1], // dominated by [2, 2]
    [2, 2],
    [0, 3],
    [2, 2],
    [1, 1],
  ];
  assert.deepEqual(paretoFrontIndices(points), [1, 2, 3]);
  assert.deepEqual(paretoFrontIndices(points, { duplicates: "keep-first" }), [1, 2]);
});

test("agrees with the definition on random sets (k = 2..4)", () => {
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  for (let s = 0; s < 200; s++) {
    const k = 2 + (s % 3);
    const points = Array.from({ length: 1 + Math.floor(next() * 15) }, () =>
      Array.from({ length: k }, () => Math.floor(next() * 5)),
    );
    const front = new Set(paretoFrontIndices(points));
    points.forEach((p, i) => {
      const dominated = points.some((q) => q.every((v, d) => v >= p[d]) && q.some((v, d) => v > p[d]));
      assert.equal(front.has(i), !dominated, `set ${s} index ${i}`);
    });
  }
});

test("ragged or non-finite input raises ParetoInputError", () => {
  assert.throws(
    () => paretoFrontIndices([[1, 2], [1]]),
    (e: unknown) => e instanceof ParetoInputError && e.code === "DIMENSION_MISMATCH" && /points\[1\] has 1/.test(e.message),
  );
  assert.throws(
    () => paretoFrontIndices([[1, Infinity]]),
    (e: unknown) => e instanceof ParetoInputError && e.code === "NON_FINITE_VALUE",
  );
});
