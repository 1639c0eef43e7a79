import { test } from "node:test";
import assert from "node:assert/strict";
import { validatePreferenceVector } from "./preference.ts";

test("accepts vectors on the simplex, within 1e-6", () => {
  assert.equal(validatePreferenceVector([0.3, 0.7], 2), null);
  assert.equal(validatePreferenceVector([1], 1), null);
  assert.equal(validatePreferenceVector([0.1, 0.2, 0.3, 0.4], 4), null);
  assert.equal(validatePreferenceVector([0.5, 0.5 + 9e-7], 2), null);
  assert.equal(validatePreferenceVector([0, 1, 0], 3), null);
});

test("rejects each problem with its code and index", () => {
  assert.equal(validatePreferenceVector([0.5, 0.5], 3)?.code, "WRONG_LENGTH");
  assert.equal(validatePreferenceVector([], 1)?.code, "WRONG_LENGTH");
  const nan = validatePreferenceVector([0.5, Number.NaN], 2);
  assert.deepEqual([nan?.code, nan?.index], ["NOT_FINITE", 1]);
  assert.equal(validatePreferenceVector([Infinity, 0], 2)?.code, "NOT_FINITE");
  const negative = validatePreferenceVector([1.2, -0.2], 2);
  assert.deepEqual([negative?.code, negative?.index], ["NEGATIVE", 1]);
  assert.equal(validatePreferenceVector([0.5, 0.5 + 2e-6], 2)?.code, "NOT_NORMALIZED");
  assert.equal(validatePreferenceVector([0.2, 0.2], 2)?.code, "NOT_NORMALIZED");
  assert.match(validatePreferenceVector([0.2, 0.2], 2)?.message ?? "", /sums to 0\.4/);
});

test("a non-positive dimension count is a programming error", () => {
  assert.throws(() => validatePreferenceVector([], 0), RangeError);
});
