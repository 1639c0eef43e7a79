/**
 * @module test/console/console-lib — the console's pure helpers under node's test runner: α on the simplex (the
 * choosers' rounding and the triangle's barycentric coordinates), errors-as-data placement next to fields, and the
 * number formats. Every α the console sends must pass the api's own check (contracts validatePreferenceVector).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { validatePreferenceVector } from "../../src/contracts/preference.ts";
import { fromBarycentric, normalise, spreadAlphas, toBarycentric, type Point } from "../../web/src/lib/simplex.ts";
import { fieldError, payloadErrors } from "../../web/src/lib/form-errors.ts";
import { formatAlpha, formatBytes, formatNumber, formatSeconds, shortId } from "../../web/src/lib/format.ts";

const CORNERS: [Point, Point, Point] = [
  [90, 12],
  [12, 148],
  [168, 148],
];

describe("α on the simplex", () => {
  test("normalise rounds to 3 decimals and sums to exactly 1; junk becomes 0; all zeros become uniform", () => {
    for (const input of [[1, 1, 1], [0.1234, 0.8766], [2, 0, 1, 1, 3], [-1, 3], [Number.NaN, 1], [0, 0, 0], [1, 1, 1, 1, 1, 1, 1]]) {
      const a = normalise(input);
      assert.equal(a.length, input.length);
      assert.equal(validatePreferenceVector(a, a.length), null, `${JSON.stringify(input)} → ${JSON.stringify(a)}`);
      for (const v of a) assert.equal(Math.round(v * 1000) / 1000, v);
    }
    assert.deepEqual(normalise([-1, 3]), [0, 1]);
    assert.deepEqual(normalise([0, 0]), [0.5, 0.5]);
  });

  test("the triangle: corners are the unit vectors, the centroid is uniform, outside points are projected", () => {
    assert.deepEqual(toBarycentric(CORNERS, ...CORNERS[0]), [1, 0, 0]);
    assert.deepEqual(toBarycentric(CORNERS, ...CORNERS[1]), [0, 1, 0]);
    assert.deepEqual(toBarycentric(CORNERS, ...CORNERS[2]), [0, 0, 1]);
    const centroid = toBarycentric(CORNERS, (90 + 12 + 168) / 3, (12 + 148 + 148) / 3);
    assert.ok(centroid.every((v) => Math.abs(v - 1 / 3) < 0.002), JSON.stringify(centroid));
    const outside = toBarycentric(CORNERS, 500, 500);
    assert.equal(validatePreferenceVector(outside, 3), null);
    assert.equal(outside[0], 0);
    for (const alpha of [[0.2, 0.3, 0.5], [0.7, 0.1, 0.2]]) {
      const [x, y] = fromBarycentric(CORNERS, alpha);
      const back = toBarycentric(CORNERS, x, y);
      back.forEach((v, i) => assert.ok(Math.abs(v - alpha[i]!) < 0.002, `${alpha} → ${back}`));
    }
  });

  test("starting columns spread from all-first to all-last and are valid α", () => {
    assert.deepEqual(spreadAlphas(2, 3), [[1, 0], [0.5, 0.5], [0, 1]]);
    assert.deepEqual(spreadAlphas(0, 1), [[]]);
    for (const a of spreadAlphas(4, 6)) assert.equal(validatePreferenceVector(a, 4), null);
  });
});

describe("errors returned as data land next to their field", () => {
  test("ValidationError and LimitExceeded by field; InvalidPreferenceVector by the α its message names; others on the form", () => {
    const v = payloadErrors({ __typename: "ValidationError", field: "input.maxLength", message: "maxLength 4096 exceeds the context (512)" });
    assert.equal(fieldError(v, "input.maxLength"), "maxLength 4096 exceeds the context (512)");
    assert.equal(v.form, null);
    const bare = payloadErrors({ __typename: "ValidationError", field: "name", message: "taken" });
    assert.equal(fieldError(bare, "input.name"), "taken", "a field reported without the input. prefix still matches");
    const l = payloadErrors({ __typename: "LimitExceeded", field: "input.gridStep", message: "too many points" });
    assert.equal(fieldError(l, "input.gridStep"), "too many points");
    const p = payloadErrors({ __typename: "InvalidPreferenceVector", code: "NOT_NORMALIZED", index: null, message: "input.alphas[1]: sums to 0.9" });
    assert.equal(fieldError(p, "input.alphas[1]"), "input.alphas[1]: sums to 0.9");
    const q = payloadErrors({ __typename: "QuotaExceeded", quota: "maxConcurrentJobs", message: "4 jobs are active", retryAfter: 30 });
    assert.equal(q.form, "4 jobs are active (retry in 30 s)");
    const r = payloadErrors({ __typename: "ResourceInUse", message: "in use", usedBy: ["a", "b"] });
    assert.equal(r.form, "in use — used by 2 object(s)");
    assert.equal(payloadErrors({ __typename: "NotFoundError", id: "x", message: "not found" }).form, "not found");
  });
});

describe("formats", () => {
  test("bytes, seconds, numbers, α and short ids", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.50 KiB");
    assert.equal(formatBytes(1024 ** 3), "1.00 GiB");
    assert.equal(formatBytes(null), "—");
    assert.equal(formatSeconds(0.25), "250 ms");
    assert.equal(formatSeconds(75), "75 s");
    assert.equal(formatSeconds(3600), "60 min 0 s");
    assert.equal(formatNumber(0.00012), "1.20e-4");
    assert.equal(formatNumber(1.23456789), "1.2346");
    assert.equal(formatNumber(Number.NaN), "—");
    assert.equal(formatAlpha([0.3333333, 0.6666667]), "(0.333, 0.667)");
    assert.equal(shortId(Buffer.from("Job:0a8bb9de-7166-4d05-a079-f9beed760409").toString("base64")), "0a8bb9de");
  });
});
