import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

describe("Semaphore", () => {
  it("grants up to size units, then queues waiters FIFO; a release is idempotent", async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    assert.equal(s.free, 0);
    const order: number[] = [];
    const w3 = s.acquire().then((r) => (order.push(3), r));
    const w4 = s.acquire().then((r) => (order.push(4), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    r1();
    r1();
    const r3 = await w3;
    assert.deepEqual(order, [3]);
    assert.equal(s.free, 0);
    r2();
    const r4 = await w4;
    assert.deepEqual(order, [3, 4]);
    r3();
    r4();
    assert.equal(s.free, 2);
    assert.throws(() => new Semaphore(0), RangeError);
  });
});
