import { test } from "node:test";
import assert from "node:assert/strict";
import { DataOrderError, epochPermutation, nextMicroBatch, type DataCursor } from "./data-order.ts";

test("each epoch is a different permutation, fixed by (seed, epoch)", () => {
  const e0 = epochPermutation(20, 42, 0);
  const e1 = epochPermutation(20, 42, 1);
  assert.deepEqual([...e0].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.notDeepEqual(e0, e1);
  assert.deepEqual(epochPermutation(20, 42, 1), e1);
  assert.notDeepEqual(epochPermutation(20, 43, 0), e0);
});

test("micro-batches cover every example once per epoch and resume from a cursor", () => {
  let cursor: DataCursor = { epoch: 0, index: 0 };
  const seen: number[][] = [];
  for (let i = 0; i < 6; i++) {
    const batch = nextMicroBatch(cursor, 10, 4, 7);
    seen.push(batch.indices);
    cursor = batch.cursor;
  }
  assert.deepEqual(seen.map((b) => b.length), [4, 4, 2, 4, 4, 2]);
  assert.deepEqual(seen.slice(0, 3).flat().sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  assert.deepEqual(seen.slice(3).flat(), epochPermutation(10, 7, 1));
  assert.deepEqual(cursor, { epoch: 1, index: 10 });
  const resumed = nextMicroBatch({ epoch: 0, index: 8 }, 10, 4, 7);
  assert.deepEqual(resumed.indices, seen[2]);
  assert.throws(() => nextMicroBatch({ epoch: 0, index: 0 }, 10, 0, 7), (e: unknown) => e instanceof DataOrderError && /batchSize/.test(e.message));
});
