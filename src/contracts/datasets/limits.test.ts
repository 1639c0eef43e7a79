import { test } from "node:test";
import assert from "node:assert/strict";
import { DATASET_LIMITS, DEFAULT_DATASET_LIMITS, EXPANSION_RATIO_FLOOR_BYTES, decompressionProblem, tooManyLines } from "./limits.ts";

const LIMITS = { maxDecompressedBytes: 10 * EXPANSION_RATIO_FLOOR_BYTES, maxExpansionRatio: 100, maxLines: 1000 };

test("decompressionProblem: bytes first, then the ratio, judged only above the floor and only for gzip", () => {
  const floor = EXPANSION_RATIO_FLOOR_BYTES;
  assert.equal(decompressionProblem(LIMITS, LIMITS.maxDecompressedBytes, null), null);
  assert.equal(decompressionProblem(LIMITS, LIMITS.maxDecompressedBytes + 1, 1e9)?.code, "TOO_LARGE");
  assert.match(decompressionProblem(LIMITS, LIMITS.maxDecompressedBytes + 1, null)!.reason, /maxDecompressedBytes, PARM_DATASET_MAX_DECOMPRESSED_BYTES/);
  assert.equal(decompressionProblem(LIMITS, floor, 1), null, "at the floor the ratio is not judged");
  assert.equal(decompressionProblem(LIMITS, floor + 1, null), null, "plain uploads have no ratio");
  assert.equal(decompressionProblem(LIMITS, 100 * 20_000, 20_000), null, "exactly the ratio is allowed");
  const over = decompressionProblem(LIMITS, 100 * 20_000 + 1, 20_000);
  assert.equal(over?.code, "EXPANSION_RATIO_EXCEEDED");
  assert.match(over!.reason, /more than 100-fold: 2000001 bytes from the first 20000 compressed bytes \(limit maxExpansionRatio, PARM_DATASET_MAX_EXPANSION_RATIO\)/);
});

test("tooManyLines names the limit; every default lies within its bounds", () => {
  assert.deepEqual(tooManyLines(LIMITS), {
    code: "TOO_MANY_LINES",
    reason: "the upload has more than 1000 lines, blank lines included (limit maxLines, PARM_DATASET_MAX_LINES)",
  });
  for (const [key, spec] of Object.entries(DATASET_LIMITS)) {
    assert.equal(DEFAULT_DATASET_LIMITS[key as keyof typeof DEFAULT_DATASET_LIMITS], spec.default);
    assert.ok(Number.isInteger(spec.default) && spec.min <= spec.default && spec.default <= spec.max, key);
  }
});
