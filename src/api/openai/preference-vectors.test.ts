import { test } from "node:test";
import assert from "node:assert/strict";
import type { AdapterRow } from "../services/generations.ts";
import { OpenAiError } from "./openai-error.ts";
import { resolvePreferenceVectors } from "./preference-vectors.ts";

const adapter = { dimensionIds: ["d1", "d2"], dimensionNames: ["harmless", "helpful"] } as AdapterRow;

function refusal(run: () => unknown): OpenAiError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof OpenAiError, String(error));
    return error;
  }
  assert.fail("expected a refusal");
}

test("preference objects follow the adapter's α order; left-out dimensions weigh 0; arrays pass as given", () => {
  assert.deepEqual(resolvePreferenceVectors({ preference: { helpful: 0.7, harmless: 0.3 } }, adapter, "a"), [[0.3, 0.7]]);
  assert.deepEqual(resolvePreferenceVectors({ preference: { helpful: 1 } }, adapter, "a"), [[0, 1]]);
  assert.deepEqual(resolvePreferenceVectors({ preference: [0.2, 0.8] }, adapter, "a"), [[0.2, 0.8]]);
  assert.deepEqual(resolvePreferenceVectors({ preferences: [[1, 0], { harmless: 0.5, helpful: 0.5 }] }, adapter, "a"), [[1, 0], [0.5, 0.5]]);
  assert.deepEqual(resolvePreferenceVectors({}, adapter, "a"), [[0.5, 0.5]], "uniform by default");
  assert.deepEqual(resolvePreferenceVectors({}, null, "base"), [[]], "a base model alone is unguided");
});

test("invalid vectors are refused like GraphQL α, naming the field", () => {
  const sum = refusal(() => resolvePreferenceVectors({ preference: { helpful: 0.7 } }, adapter, "a"));
  assert.deepEqual([sum.status, sum.param, sum.code], [400, "preference", "invalid_preference_vector"]);
  assert.match(sum.message, /sums to 0.7/);
  const length = refusal(() => resolvePreferenceVectors({ preferences: [[1, 0], [1]] }, adapter, "a"));
  assert.equal(length.param, "preferences[1]");
  assert.match(length.message, /expected one per dimension \(2\) \(in order: harmless, helpful\)/);
  const negative = refusal(() => resolvePreferenceVectors({ preference: [1.5, -0.5] }, adapter, "a"));
  assert.match(negative.message, /alpha\[1\] is -0.5/);
  const unknown = refusal(() => resolvePreferenceVectors({ preference: { honest: 1 } }, adapter, "a"));
  assert.equal(unknown.param, "preference.honest");
  assert.equal(refusal(() => resolvePreferenceVectors({ preference: [1, 0], preferences: [[1, 0]] }, adapter, "a")).param, "preferences");
  const base = refusal(() => resolvePreferenceVectors({ preference: [1] }, null, "stories"));
  assert.match(base.message, /stories is a base model/);
});
