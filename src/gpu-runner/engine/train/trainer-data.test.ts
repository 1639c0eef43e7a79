/** @module engine/train/trainer-data.test
 * Pair preparation and the epoch plan: signs and counts, buckets, every pair exactly once per epoch, no bucket
 * mixing, objective round-robin, determinism per (seed, phase, epoch), fingerprints, maxSteps budgets per phase.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { PairTokenizer, PreferencePair } from "./pairs.ts";
import {
  defaultLengthBuckets,
  epochPlan,
  microBatchesPerEpoch,
  pairsFingerprint,
  phaseUpdateBudgets,
  preparePairs,
  responseSlotsByBucket,
  singleObjectivePairs,
  TrainerError,
} from "./trainer-data.ts";

const tokenizer: PairTokenizer = { bosId: 1, eosId: 2, encode: (text) => Array.from(text, (c) => 3 + (c.charCodeAt(0) % 20)) };
const options = { maxLength: 24, maxPromptLength: 8, truncation: "TRL", buckets: [8, 16, 24] } as const;

function pairs(n: number): PreferencePair[] {
  return Array.from({ length: n }, (_, i) => ({
    prompt: "p".repeat(1 + (i % 3)),
    responses: ["a".repeat(1 + (i % 11)), "b".repeat(2 + (i % 7))] as [string, string],
    preferred: i % 3 === 0 ? [0, null] : i % 3 === 1 ? [null, 1] : [1, 0],
  }));
}

describe("preparePairs", () => {
  test("signs, counts, bucket, response slots and token counts", () => {
    const [p] = preparePairs(tokenizer, [{ prompt: "pp", responses: ["aaa", "b"], preferred: [1, null] }], 2, options);
    assert.deepEqual(p.arm.sign, [-1, 1]);
    assert.deepEqual(p.counts, [true, false]);
    assert.deepEqual(p.arm.first.ids, [1, 3 + (112 % 20), 3 + (112 % 20), 3 + (97 % 20), 3 + (97 % 20), 3 + (97 % 20), 2]);
    assert.equal(p.responseTokens, 4); // "aaa" + EOS
    assert.equal(p.tokens, 7 + 5);
    assert.equal(p.bucket, 8);
  });

  test("a label count that differs from the objectives is a typed error naming the pair", () => {
    assert.throws(() => preparePairs(tokenizer, [...pairs(2), { prompt: "x", responses: ["a", "b"], preferred: [0] }], 2, options), (e: unknown) => e instanceof TrainerError && /pair 2/.test(e.message));
  });

  test("singleObjectivePairs keeps the labelled pairs with one sign", () => {
    const prepared = preparePairs(tokenizer, pairs(9), 2, options);
    const second = singleObjectivePairs(prepared, 1);
    assert.equal(second.length, 6);
    assert.ok(second.every((p) => p.arm.sign.length === 1 && p.counts.length === 1));
    assert.deepEqual(second.map((p) => p.arm.sign[0]), prepared.filter((p) => p.counts[1]).map((p) => p.arm.sign[1]));
  });

  test("default buckets climb to maxLength", () => {
    assert.deepEqual(defaultLengthBuckets(200), [16, 32, 48, 64, 96, 128, 192, 200]);
    assert.deepEqual(defaultLengthBuckets(16), [16]);
    assert.throws(() => defaultLengthBuckets(1), TrainerError);
  });
});

describe("epochPlan", () => {
  const prepared = preparePairs(tokenizer, pairs(40), 2, options);

  test("every pair once per epoch, one bucket per micro-batch, batch count as predicted", () => {
    for (const epoch of [0, 1, 2]) {
      const plan = epochPlan(prepared, 4, 9, 0, epoch);
      assert.deepEqual(plan.flat().sort((a, b) => a - b), prepared.map((_, i) => i));
      assert.ok(plan.every((b) => b.length >= 1 && b.length <= 4 && new Set(b.map((i) => prepared[i].bucket)).size === 1));
      assert.equal(plan.length, microBatchesPerEpoch(prepared, 4));
    }
  });

  test("deterministic per (seed, phase, epoch), different across epochs and seeds", () => {
    assert.deepEqual(epochPlan(prepared, 4, 9, 0, 1), epochPlan(prepared, 4, 9, 0, 1));
    assert.notDeepEqual(epochPlan(prepared, 4, 9, 0, 1), epochPlan(prepared, 4, 9, 0, 2));
    assert.notDeepEqual(epochPlan(prepared, 4, 9, 0, 1), epochPlan(prepared, 4, 10, 0, 1));
    assert.notDeepEqual(epochPlan(prepared, 4, 9, 0, 1), epochPlan(prepared, 4, 9, 1, 1));
  });

  test("single-label pairs of different objectives are interleaved round-robin", () => {
    const oneBucket = preparePairs(tokenizer, Array.from({ length: 16 }, (_, i) => ({ prompt: "p", responses: ["a", "b"] as [string, string], preferred: i < 8 ? [0, null] : [null, 0] })), 2, options);
    for (const batch of epochPlan(oneBucket, 4, 3, 0, 0)) {
      assert.equal(batch.filter((i) => oneBucket[i].counts[0]).length, 2, "two pairs of each objective per micro-batch");
    }
  });

  test("response slots per bucket and the fingerprint follow the data", () => {
    const slots = responseSlotsByBucket(prepared);
    for (const p of prepared) assert.ok(slots.get(p.bucket)! >= p.responseTokens);
    const other = preparePairs(tokenizer, pairs(40).map((p, i) => (i === 5 ? { ...p, responses: [p.responses[1], p.responses[0]] as [string, string] } : p)), 2, options);
    assert.equal(pairsFingerprint(prepared), pairsFingerprint(preparePairs(tokenizer, pairs(40), 2, options)));
    assert.notEqual(pairsFingerprint(prepared), pairsFingerprint(other));
  });
});

describe("phaseUpdateBudgets", () => {
  test("no cap, or a cap at or above the total, keeps the natural counts", () => {
    assert.deepEqual(phaseUpdateBudgets([7, 3], null), [7, 3]);
    assert.deepEqual(phaseUpdateBudgets([7, 3], 10), [7, 3]);
    assert.deepEqual(phaseUpdateBudgets([7, 3], 99), [7, 3]);
  });

  test("a cap is shared in proportion, sums to maxSteps, gives every phase ≥ 1 and none more than its own", () => {
    assert.deepEqual(phaseUpdateBudgets([12], 5), [5]);
    assert.deepEqual(phaseUpdateBudgets([10, 10], 5), [3, 2]);
    assert.deepEqual(phaseUpdateBudgets([1000, 1], 2), [1, 1]);
    for (const [natural, cap] of [[[5, 9, 1], 4], [[100, 1, 1], 3], [[3, 3, 3], 8], [[40, 17, 2, 9], 30]] as const) {
      const budgets = phaseUpdateBudgets(natural, cap);
      assert.equal(budgets.reduce((s, b) => s + b, 0), cap, `${natural} / ${cap}`);
      budgets.forEach((b, j) => assert.ok(b >= 1 && b <= natural[j], `${natural} / ${cap}: ${budgets}`));
    }
  });

  test("a cap below the number of phases is a typed error naming maxSteps", () => {
    assert.throws(() => phaseUpdateBudgets([4, 4], 1), (e: unknown) => e instanceof TrainerError && e.code === "INVALID_OPTIONS" && /maxSteps \(1\)/.test(e.message));
  });
});
