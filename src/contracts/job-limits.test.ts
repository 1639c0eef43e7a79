/** @module contracts/job-limits.test — the work measures and the tenant's own limits. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_JOB_LIMITS, JOB_LIMITS, simplexGridPointCount, tenantJobLimits, trainingPairPasses } from "./job-limits.ts";

describe("job limits", () => {
  it("counts simplex grid points as C(steps + k − 1, k − 1)", () => {
    assert.equal(simplexGridPointCount(10, 2), 11);
    assert.equal(simplexGridPointCount(10_000, 2), 10_001);
    assert.equal(simplexGridPointCount(10, 3), 66);
    assert.equal(simplexGridPointCount(20, 3), 231);
    assert.equal(simplexGridPointCount(4, 1), 1);
    let brute = 0;
    for (let a = 0; a <= 6; a++) for (let b = 0; a + b <= 6; b++) for (let c = 0; a + b + c <= 6; c++) brute += 1;
    assert.equal(simplexGridPointCount(6, 4), brute);
  });

  it("counts training pair passes with maxPairs per phase and maxSteps", () => {
    const base = { pairsPerPhase: [100, 40], epochs: 3, maxPairs: null, maxSteps: null, pairsPerUpdate: 8 };
    assert.equal(trainingPairPasses(base), 420);
    assert.equal(trainingPairPasses({ ...base, maxPairs: 50 }), 270);
    assert.equal(trainingPairPasses({ ...base, maxSteps: 10 }), 80);
  });

  it("puts a tenant's own limits in place of the server's, ignoring values outside the contract's bounds", () => {
    assert.deepEqual(tenantJobLimits(DEFAULT_JOB_LIMITS, null), DEFAULT_JOB_LIMITS);
    assert.deepEqual(tenantJobLimits(DEFAULT_JOB_LIMITS, { maxGridPoints: 11 }), { ...DEFAULT_JOB_LIMITS, maxGridPoints: 11 });
    const ignored = { maxGridPoints: 0, maxEvaluationTokens: 1.5, maxGenerationTokens: "9", maxTrainingPairPasses: JOB_LIMITS.maxTrainingPairPasses.max * 10 };
    assert.deepEqual(tenantJobLimits(DEFAULT_JOB_LIMITS, ignored), DEFAULT_JOB_LIMITS);
  });
});
