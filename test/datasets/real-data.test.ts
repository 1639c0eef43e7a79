/** @module test/datasets/real-data — the dataset parser on the real HH-RLHF and PKU-SafeRLHF files in shared/data. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, createReadStream } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  createDatasetParser,
  judgeDatasetReport,
  parseDataset,
  parseDatasetStream,
  PreferenceRecordSchema,
} from "../../src/contracts/index.ts";

const dataPath = (relative: string) => fileURLToPath(new URL(`../../../shared/data/${relative}`, import.meta.url));
const RATIOS = { train: 0.8, validation: 0.1, test: 0.1 };
const MARKER = "\n\nAssistant:";

/** Independent oracle: line numbers of pairs whose prompt prefixes differ, and of identical pairs. */
function oracle(gz: Buffer): { lines: number; mismatched: number[]; identical: number[] } {
  const rows = gunzipSync(gz).toString("utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { chosen: string; rejected: string });
  const prefix = (s: string) => s.slice(0, s.lastIndexOf(MARKER) + MARKER.length);
  return {
    lines: rows.length,
    mismatched: rows.flatMap((r, i) => (prefix(r.chosen) !== prefix(r.rejected) ? [i + 1] : [])),
    identical: rows.flatMap((r, i) => (r.chosen === r.rejected ? [i + 1] : [])),
  };
}

for (const [file, pairs, mismatches, identical] of [
  ["harmless-base.test.jsonl.gz", 2312, 5, 0],
  ["helpful-base.test.jsonl.gz", 2354, 9, 2],
] as const) {
  test(`HH-RLHF ${file}: ${pairs} lines, ${mismatches} prefix mismatches, ${identical} identical pairs (README)`, async () => {
    const gz = readFileSync(dataPath(`hh-rlhf/${file}`));
    const streamed = await parseDatasetStream(createReadStream(dataPath(`hh-rlhf/${file}`), { highWaterMark: 16 * 1024 }), "HH_RLHF", { splitRatios: RATIOS });
    const { report, records } = streamed;
    assert.equal(report.gzip, true);
    assert.equal(report.totalLines, pairs);
    assert.equal(report.countsByCode.PROMPT_PREFIX_MISMATCH, mismatches);
    assert.equal(report.countsByCode.IDENTICAL_PAIR, identical);
    assert.equal(report.accepted + report.rejected, pairs);
    assert.equal(records.length, report.accepted);
    assert.equal(report.fatal, null);

    const truth = oracle(gz);
    assert.equal(truth.mismatched.length, mismatches);
    assert.deepEqual(report.issues.filter((i) => i.code === "PROMPT_PREFIX_MISMATCH").map((i) => i.line), truth.mismatched);
    assert.deepEqual(report.issues.filter((i) => i.code === "IDENTICAL_PAIR").map((i) => i.line), truth.identical);
    // Remaining drops are empty final responses; nothing structural.
    assert.equal(report.rejected, mismatches + identical + report.countsByCode.EMPTY_RESPONSE);
    assert.deepEqual(judgeDatasetReport(report), { accepted: true, droppedPairs: report.rejected });

    for (const record of records.slice(0, 50)) {
      PreferenceRecordSchema.parse(record);
      assert.ok(record.prompt.endsWith(MARKER));
      assert.ok(record.prompt.startsWith("\n\nHuman:"));
    }
    assert.equal(report.splitCounts.TRAIN + report.splitCounts.VALIDATION + report.splitCounts.TEST, report.accepted);
    assert.ok(report.splitCounts.VALIDATION > 0.05 * report.accepted && report.splitCounts.VALIDATION < 0.15 * report.accepted);

    const oneShot = parseDataset(gz, "HH_RLHF", { splitRatios: RATIOS });
    assert.deepEqual(oneShot.report, report);
    assert.deepEqual(oneShot.records.map((r) => r.pairHash), records.map((r) => r.pairHash));
  });
}

test("PKU-SafeRLHF head16: 16 pairs, label counts and the one conflict from its README; plain and gzip agree", async () => {
  const plain = readFileSync(dataPath("pku-saferlhf/alpaca-7b.test.head16.jsonl"));
  const { report, records } = parseDataset(plain, "PKU_SAFERLHF", { splitRatios: RATIOS });
  assert.equal(report.totalLines, 16);
  assert.equal(report.accepted, 16);
  assert.deepEqual(report.labelCounts, { better: { 0: 3, 1: 13 }, safer: { 0: 4, 1: 12 } });
  const conflicts = records.filter((r) => r.preferences.better !== r.preferences.safer);
  assert.deepEqual(conflicts.map((r) => [r.line, r.preferences.better, r.preferences.safer]), [[6, 1, 0]]);
  assert.match(conflicts[0].prompt, /undermine/i);

  const parser = createDatasetParser("PKU_SAFERLHF", { splitRatios: RATIOS, labelNames: ["helpful", "harmless"] });
  const gz = gzipSync(plain);
  for (let i = 0; i < gz.length; i += 997) await parser.push(gz.subarray(i, i + 997));
  const fromGzip = await parser.end();
  assert.equal(fromGzip.report.gzip, true);
  assert.deepEqual(fromGzip.records.map((r) => [r.pairHash, r.split, r.preferences.helpful, r.preferences.harmless]),
    records.map((r) => [r.pairHash, r.split, r.preferences.better, r.preferences.safer]));
});
