import { test } from "node:test";
import assert from "node:assert/strict";
import { cosineWithWarmup, GradientAccumulator, linearWithWarmup, ScheduleError, totalOptimizerSteps } from "./schedule.ts";

test("cosine with warmup follows HF get_cosine_schedule_with_warmup", () => {
  const o = { warmupSteps: 20, totalSteps: 120 };
  assert.equal(cosineWithWarmup(0, o), 0);
  assert.equal(cosineWithWarmup(10, o), 0.5);
  assert.equal(cosineWithWarmup(20, o), 1);
  assert.ok(Math.abs(cosineWithWarmup(70, o) - 0.5) < 1e-15);
  assert.ok(Math.abs(cosineWithWarmup(45, o) - 0.5 * (1 + Math.cos(Math.PI * 0.25))) < 1e-15);
  assert.ok(Math.abs(cosineWithWarmup(120, o)) < 1e-15);
  assert.equal(cosineWithWarmup(130, o), 0.5 * (1 + Math.cos(Math.PI * 1.1)));
  assert.equal(cosineWithWarmup(5, { warmupSteps: 0, totalSteps: 10 }), 0.5 * (1 + Math.cos(Math.PI * 0.5)));
  assert.throws(() => cosineWithWarmup(0, { warmupSteps: -1, totalSteps: 5 }), (e: unknown) => e instanceof ScheduleError && e.code === "INVALID_OPTIONS");
});

test("linear with warmup and total step arithmetic", () => {
  const o = { warmupSteps: 4, totalSteps: 14 };
  assert.deepEqual([0, 2, 4, 9, 14, 20].map((s) => linearWithWarmup(s, o)), [0, 0.5, 1, 0.5, 0, 0]);
  // PARM: 8000 pairs, 32 per update, 2 epochs → 500 updates.
  assert.equal(totalOptimizerSteps({ examples: 8000, microBatchSize: 4, accumulationSteps: 8, epochs: 2 }), 500);
  assert.equal(totalOptimizerSteps({ examples: 10, microBatchSize: 4, accumulationSteps: 2, epochs: 1 }), 2);
});

test("gradient accumulation averages micro-batches, including a partial window", () => {
  const acc = new GradientAccumulator(3);
  acc.add(new Map([["w", new Float32Array([1, 2])]]));
  acc.add(new Map([["w", new Float32Array([3, 6])]]));
  assert.equal(acc.ready, false);
  acc.add(new Map([["w", new Float32Array([5, 1])]]));
  assert.equal(acc.ready, true);
  assert.deepEqual([...acc.take().get("w")!], [3, 3]);
  assert.equal(acc.pending, 0);
  acc.add(new Map([["w", new Float32Array([2, 4])]]));
  assert.deepEqual([...acc.take().get("w")!], [2, 4]);
  assert.throws(() => acc.take(), (e: unknown) => e instanceof ScheduleError && e.code === "NOT_READY");
  acc.add(new Map([["w", new Float32Array(2)]]));
  assert.throws(() => acc.add(new Map([["w", new Float32Array(3)]])), (e: unknown) => e instanceof ScheduleError && e.code === "SHAPE_MISMATCH");
});
