import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { gzipOfRepeatedBytes } from "../../../test/helpers/gzip-bomb.ts";
import {
  DATASET_LIMITS,
  DEFAULT_DATASET_LIMITS,
  DatasetOptionsError,
  DatasetParserClosedError,
  EXPANSION_RATIO_FLOOR_BYTES,
  createDatasetParser,
  judgeDatasetReport,
  pairHash,
  parseDataset,
  parseDatasetStream,
  splitForHash,
  tooManyLines,
  type DatasetFormat,
  type DatasetParseResult,
  type DatasetParserOptions,
} from "./index.ts";

const RATIOS = { train: 0.8, validation: 0.1, test: 0.1 };
const OPTS: DatasetParserOptions = { splitRatios: RATIOS };
const enc = (s: string) => new TextEncoder().encode(s);
const json = (v: unknown) => JSON.stringify(v);
const hh = (prompt: string, chosen: string, rejected: string) =>
  json({ chosen: `${prompt}${chosen}`, rejected: `${prompt}${rejected}` });
const P = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant:";

/** A small HH-RLHF file with one line per problem code; line numbers in `expected`. */
function brokenHh(): { text: string; expected: [number, string][] } {
  const lines = [
    hh(P, " sure", " no"), // 1 ok
    "{not json", // 2
    "", // 3 blank
    json({ chosen: `${P} x` }), // 4 missing rejected
    hh(P, " ", " no"), // 5 empty chosen response
    hh(P, " same", " same"), // 6 identical
    json({ chosen: `${P} a`, rejected: `\n\nHuman: other\n\nAssistant: b` }), // 7 prefix mismatch
    "   ", // 8 blank
    json([1, 2]), // 9 not an object
    json({ chosen: 3, rejected: "x" }), // 10 wrong type
    json({ chosen: "no assistant turn", rejected: "no assistant turn either" }), // 11 no prompt
    hh(P, " café ☕", " tea"), // 12 ok, multibyte
  ];
  return {
    text: lines.join("\n") + "\n",
    expected: [
      [2, "MALFORMED_JSON"],
      [4, "MISSING_FIELD"],
      [5, "EMPTY_RESPONSE"],
      [6, "IDENTICAL_PAIR"],
      [7, "PROMPT_PREFIX_MISMATCH"],
      [9, "MALFORMED_JSON"],
      [10, "MISSING_FIELD"],
      [11, "MISSING_FIELD"],
    ],
  };
}

function issueList(result: DatasetParseResult): [number, string][] {
  return result.report.issues.map((i) => [i.line, i.code]);
}

async function streamInChunks(bytes: Uint8Array, format: DatasetFormat, cuts: number[], opts = OPTS): Promise<DatasetParseResult> {
  const parser = createDatasetParser(format, opts);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    await parser.push(bytes.subarray(start, cut));
    start = cut;
  }
  return parser.end();
}

test("HH-RLHF: each problem is reported with its line and code; the prompt ends at the last Assistant marker", () => {
  const { text, expected } = brokenHh();
  const result = parseDataset(enc(text), "HH_RLHF", OPTS);
  assert.deepEqual(issueList(result), expected);
  assert.equal(result.report.totalLines, 10);
  assert.equal(result.report.accepted, 2);
  assert.equal(result.report.rejected, 8);
  assert.equal(result.report.countsByCode.MISSING_FIELD, 3);
  assert.equal(result.report.countsByCode.MALFORMED_JSON, 2);
  assert.deepEqual(result.records.map((r) => r.line), [1, 12]);
  const [first, second] = result.records;
  assert.equal(first.prompt, P);
  assert.equal(first.response0, " sure");
  assert.equal(first.response1, " no");
  assert.deepEqual(first.preferences, { preferred: 0 });
  assert.equal(second.response0, " café ☕");
  assert.equal(first.pairHash, pairHash(P, " sure", " no"));
  assert.equal(first.split, splitForHash(first.pairHash, RATIOS));
  assert.match(result.report.issues.find((i) => i.line === 4)!.reason, /"rejected"/);
  assert.match(result.report.issues.find((i) => i.line === 7)!.reason, /prompt prefixes differ/);
  assert.match(result.report.issues.find((i) => i.line === 10)!.reason, /"chosen" must be a string, got a number/);
});

test("every chunk boundary (plain and gzip) gives the one-shot result", async () => {
  const { text } = brokenHh();
  const plain = enc(text.replace(/\n/g, "\r\n"));
  const reference = parseDataset(plain, "HH_RLHF", OPTS);
  assert.equal(reference.report.accepted, 2, "CRLF line ends are tolerated");
  assert.deepEqual(issueList(reference), brokenHh().expected);
  for (let cut = 0; cut <= plain.length; cut++) {
    const streamed = await streamInChunks(plain, "HH_RLHF", [cut]);
    assert.deepEqual(streamed, reference, `plain, cut at byte ${cut}`);
  }
  const oneByte = await streamInChunks(plain, "HH_RLHF", Array.from({ length: plain.length }, (_, i) => i));
  assert.deepEqual(oneByte, reference);

  const gz = gzipSync(plain);
  const gzReference = parseDataset(gz, "HH_RLHF", OPTS);
  assert.equal(gzReference.report.gzip, true);
  assert.deepEqual(gzReference.records, reference.records);
  assert.deepEqual(gzReference.report.issues, reference.report.issues);
  for (let cut = 0; cut <= gz.length; cut++) {
    const streamed = await streamInChunks(gz, "HH_RLHF", [cut]);
    assert.deepEqual(streamed, gzReference, `gzip, cut at byte ${cut}`);
  }
  const gzOneByte = await streamInChunks(gz, "HH_RLHF", Array.from({ length: gz.length }, (_, i) => i));
  assert.deepEqual(gzOneByte, gzReference);
});

test("a last line without newline, a BOM and several gzip members are handled", async () => {
  const lines = [json({ prompt: "p1", chosen: "a", rejected: "b" }), json({ prompt: "p2", chosen: "c", rejected: "d" })];
  const withBom = enc("\uFEFF" + lines.join("\n"));
  const result = parseDataset(withBom, "GENERIC", OPTS);
  assert.equal(result.report.accepted, 2);
  const twoMembers = new Uint8Array([...gzipSync(enc(lines[0] + "\n")), ...gzipSync(enc(lines[1]))]);
  const fromMembers = await streamInChunks(twoMembers, "GENERIC", [5, 40]);
  assert.deepEqual(fromMembers.records, result.records);
  assert.deepEqual(parseDataset(twoMembers, "GENERIC", OPTS).records, result.records);
});

test("PKU-SafeRLHF: labels, INVALID_LABEL, MISSING_FIELD and custom label names", () => {
  const row = (over: Record<string, unknown>) =>
    json({ prompt: "q", response_0: "a", response_1: "b", better_response_id: 1, safer_response_id: 0, ...over });
  const text = [
    row({}),
    row({ better_response_id: 2 }),
    row({ safer_response_id: "1" }),
    row({ safer_response_id: undefined }),
    row({ response_1: "" }),
    row({ prompt: " " }),
    row({ response_0: "b" }),
  ].join("\n");
  const result = parseDataset(enc(text), "PKU_SAFERLHF", { splitRatios: RATIOS, labelNames: ["dim-help", "dim-safe"] });
  assert.deepEqual(issueList(result), [
    [2, "INVALID_LABEL"],
    [3, "INVALID_LABEL"],
    [4, "MISSING_FIELD"],
    [5, "EMPTY_RESPONSE"],
    [6, "MISSING_FIELD"],
    [7, "IDENTICAL_PAIR"],
  ]);
  assert.deepEqual(result.records[0].preferences, { "dim-help": 1, "dim-safe": 0 });
  assert.deepEqual(result.report.labelCounts, { "dim-help": { 0: 0, 1: 1 }, "dim-safe": { 0: 1, 1: 0 } });
  assert.match(result.report.issues[0].reason, /"better_response_id" must be 0 or 1, got 2/);
  assert.match(result.report.issues[2].reason, /missing field "safer_response_id"/);
});

test("generic: missing prompt is named; chosen is response 0", () => {
  const text = [json({ chosen: "a", rejected: "b" }), json({ prompt: "p", chosen: "a", rejected: "b" })].join("\n");
  const result = parseDataset(enc(text), "GENERIC", OPTS);
  assert.deepEqual(issueList(result), [[1, "MISSING_FIELD"]]);
  assert.match(result.report.issues[0].reason, /missing field "prompt"/);
  assert.deepEqual([result.records[0].response0, result.records[0].preferences], ["a", { preferred: 0 }]);
});

test("NOT_UTF8 and TOO_LARGE lines are rejected by number, even when split across chunks", async () => {
  const good = json({ prompt: "p", chosen: "a", rejected: "b" });
  const long = json({ prompt: "p".repeat(200), chosen: "a", rejected: "b" });
  const bytes = new Uint8Array([...enc(good + "\n"), 0x7b, 0xff, 0xfe, 0x7d, 0x0a, ...enc(long + "\n" + good + "\n")]);
  const opts = { splitRatios: RATIOS, maxLineBytes: 100 };
  const reference = parseDataset(bytes, "GENERIC", opts);
  assert.deepEqual(issueList(reference), [
    [2, "NOT_UTF8"],
    [3, "TOO_LARGE"],
  ]);
  assert.match(reference.report.issues[0].reason, /byte 1/);
  assert.equal(reference.report.accepted, 2);
  for (let cut = 0; cut <= bytes.length; cut += 7) {
    assert.deepEqual(await streamInChunks(bytes, "GENERIC", [cut, Math.min(bytes.length, cut + 50)], opts), reference);
  }
});

test("an upload over maxDecompressedBytes stops with a fatal TOO_LARGE (gzip bombs are cut off)", async () => {
  const line = json({ prompt: "p", chosen: "a", rejected: "b" }) + "\n";
  const big = enc(line.repeat(1000));
  const opts = { splitRatios: RATIOS, maxDecompressedBytes: 10_000 };
  const plain = parseDataset(big, "GENERIC", opts);
  assert.equal(plain.report.fatal?.code, "TOO_LARGE");
  const gz = gzipSync(big);
  const streamed = await streamInChunks(gz, "GENERIC", [100, 200], opts);
  assert.equal(streamed.report.fatal?.code, "TOO_LARGE");
  assert.ok(streamed.report.bytes <= 10_000);
  assert.equal(parseDataset(gz, "GENERIC", opts).report.fatal?.code, "TOO_LARGE");
  assert.equal(judgeDatasetReport(streamed.report).accepted, false);
});

test("a truncated or corrupt gzip is CORRUPT_GZIP; lines before the damage are still reported", async () => {
  const text = Array.from({ length: 200 }, (_, i) => json({ prompt: `p${i}`, chosen: `a${i}`, rejected: `b${i}` })).join("\n") + "\n";
  const gz = gzipSync(enc(text));
  const truncated = gz.subarray(0, Math.floor(gz.length * 0.6));
  const streamed = await streamInChunks(truncated, "GENERIC", [10]);
  assert.equal(streamed.report.fatal?.code, "CORRUPT_GZIP");
  assert.ok(streamed.report.accepted > 0 && streamed.report.accepted < 200);
  const oneShot = parseDataset(truncated, "GENERIC", OPTS);
  assert.equal(oneShot.report.fatal?.code, "CORRUPT_GZIP");
  assert.equal(oneShot.report.accepted, streamed.report.accepted);
  const garbage = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal((await streamInChunks(garbage, "GENERIC", [1])).report.fatal?.code, "CORRUPT_GZIP");
});

test("the issue list is capped but counts are exact", () => {
  const text = Array.from({ length: 250 }, () => "{oops").join("\n");
  const result = parseDataset(enc(text), "GENERIC", { splitRatios: RATIOS, issueLimit: 100 });
  assert.equal(result.report.issues.length, 100);
  assert.equal(result.report.countsByCode.MALFORMED_JSON, 250);
  assert.equal(result.report.rejected, 250);
  assert.equal(result.report.issuesTruncated, true);
  assert.deepEqual(result.report.issues.slice(0, 3).map((i) => i.line), [1, 2, 3]);
});

test("splits are deterministic by pair content and follow the ratios", () => {
  const lines = Array.from({ length: 4000 }, (_, i) => json({ prompt: `prompt ${i}`, chosen: `yes ${i}`, rejected: `no ${i}` }));
  const forward = parseDataset(enc(lines.join("\n")), "GENERIC", OPTS);
  const reversed = parseDataset(enc([...lines].reverse().join("\n")), "GENERIC", OPTS);
  const byHash = new Map(forward.records.map((r) => [r.pairHash, r.split]));
  for (const r of reversed.records) assert.equal(byHash.get(r.pairHash), r.split);
  const { TRAIN, VALIDATION, TEST } = forward.report.splitCounts;
  assert.equal(TRAIN + VALIDATION + TEST, 4000);
  // Binomial(4000, p): 5 standard deviations.
  for (const [count, p] of [[TRAIN, 0.8], [VALIDATION, 0.1], [TEST, 0.1]] as const) {
    assert.ok(Math.abs(count - 4000 * p) < 5 * Math.sqrt(4000 * p * (1 - p)), `${count} vs ${4000 * p}`);
  }
  const allTrain = parseDataset(enc(lines.slice(0, 100).join("\n")), "GENERIC", { splitRatios: { train: 1, validation: 0, test: 0 } });
  assert.deepEqual(allTrain.report.splitCounts, { TRAIN: 100, VALIDATION: 0, TEST: 0 });
  const duplicated = parseDataset(enc([lines[0], lines[1], lines[0]].join("\n")), "GENERIC", OPTS);
  assert.equal(duplicated.report.duplicatePairs, 1);
});

test("options are validated with typed errors; a parser cannot be reused after end", async () => {
  assert.throws(() => createDatasetParser("HH_RLHF", { splitRatios: { train: 0.5, validation: 0.1, test: 0.1 } }), DatasetOptionsError);
  assert.throws(() => createDatasetParser("PKU_SAFERLHF", { splitRatios: RATIOS, labelNames: ["only-one"] }), /labelNames/);
  assert.throws(() => createDatasetParser("CSV" as DatasetFormat, OPTS), /unknown dataset format "CSV"/);
  const parser = createDatasetParser("GENERIC", OPTS);
  await parser.end();
  assert.throws(() => parser.push(enc("x")), DatasetParserClosedError);
  const empty = await parseDatasetStream((async function* () {})(), "GENERIC", OPTS);
  assert.equal(empty.report.totalLines, 0);
  assert.equal(judgeDatasetReport(empty.report).accepted, false);
});

test("acceptance: structural problems reject, a few dropped pairs do not", () => {
  const good = (i: number) => json({ prompt: `p${i}`, chosen: `a${i}`, rejected: `b${i}` });
  const clean = parseDataset(enc([...Array.from({ length: 99 }, (_, i) => good(i)), json({ prompt: "p", chosen: "x", rejected: "x" })].join("\n")), "GENERIC", OPTS);
  assert.deepEqual(judgeDatasetReport(clean.report), { accepted: true, droppedPairs: 1 });
  const tooMany = judgeDatasetReport(clean.report, { maxDroppedFraction: 0 });
  assert.equal(tooMany.accepted, false);
  const structural = parseDataset(enc([good(1), "{", good(2)].join("\n")), "GENERIC", OPTS);
  const verdict = judgeDatasetReport(structural.report);
  assert.ok(!verdict.accepted && verdict.firstIssueLine === 2 && /1 MALFORMED_JSON/.test(verdict.reason));
});

test("snapshot: records round-trip through records-jsonl; corruption names the line; splits filter", async () => {
  const { DatasetSnapshotError, decodeRecordsJsonl, encodeRecordsJsonl } = await import("./index.ts");
  const lines = Array.from({ length: 50 }, (_, i) => json({ prompt: `p${i}`, chosen: `a${i}`, rejected: `b${i}` }));
  const { records } = parseDataset(enc(lines.join("\n")), "GENERIC", OPTS);
  const text = encodeRecordsJsonl(records);
  assert.deepEqual(decodeRecordsJsonl(text), records);
  assert.deepEqual(decodeRecordsJsonl(text, ["TEST"]), records.filter((r) => r.split === "TEST"));
  const broken = text.split("\n");
  broken[2] = broken[2].replace(/"split":"[A-Z]+"/, '"split":"DEV"');
  assert.throws(() => decodeRecordsJsonl(broken.join("\n")), (e: unknown) => e instanceof DatasetSnapshotError && e.line === 3 && /split/.test(e.message));
});

test("a gzip of 300 MiB of newlines is refused by the expansion ratio after ~1 MiB of output; with the ratio off, by maxLines", async () => {
  const bomb = await gzipOfRepeatedBytes(300);
  assert.ok(bomb.length < 400_000, `${bomb.length} bytes`);
  const streamed = await streamInChunks(bomb, "GENERIC", [65_536, 131_072]);
  assert.equal(streamed.report.fatal?.code, "EXPANSION_RATIO_EXCEEDED");
  assert.match(streamed.report.fatal!.reason, /more than 100-fold.*maxExpansionRatio, PARM_DATASET_MAX_EXPANSION_RATIO/);
  assert.ok(streamed.report.bytes <= 2 * EXPANSION_RATIO_FLOOR_BYTES, `${streamed.report.bytes} bytes inflated`);
  assert.equal(streamed.report.totalLines, 0);
  assert.equal(parseDataset(bomb, "GENERIC", OPTS).report.fatal?.code, "EXPANSION_RATIO_EXCEEDED");

  const ratioOff = { ...OPTS, maxExpansionRatio: DATASET_LIMITS.maxExpansionRatio.max };
  const byLines = await streamInChunks(bomb, "GENERIC", [65_536], ratioOff);
  assert.deepEqual(byLines.report.fatal, { line: DEFAULT_DATASET_LIMITS.maxLines + 1, ...tooManyLines(DEFAULT_DATASET_LIMITS) });
  assert.equal(judgeDatasetReport(byLines.report).accepted, false);
});

test("maxExpansionRatio refuses gzip of repetitive records beyond the 1 MiB floor, and spares smaller files", async () => {
  const line = json({ prompt: "p", chosen: "a", rejected: "b" }) + "\n";
  const repetitive = gzipSync(enc(line.repeat(40_000))); // ~1.6 MB, compresses several hundredfold
  const opts = { ...OPTS, maxExpansionRatio: 50 };
  const streamed = await streamInChunks(repetitive, "GENERIC", [1000], opts);
  assert.equal(streamed.report.fatal?.code, "EXPANSION_RATIO_EXCEEDED");
  assert.ok(streamed.report.fatal!.line > 1);
  assert.equal(parseDataset(repetitive, "GENERIC", opts).report.fatal?.code, "EXPANSION_RATIO_EXCEEDED");
  const small = gzipSync(enc(line.repeat(20_000))); // ~0.8 MB inflated: under the floor
  assert.equal(parseDataset(small, "GENERIC", opts).report.fatal, null);
  assert.equal((await streamInChunks(small, "GENERIC", [500], opts)).report.accepted, 20_000);
});

test("maxLines refuses line maxLines + 1 (blank lines count) with TOO_MANY_LINES, plain and gzip", async () => {
  const good = (i: number) => json({ prompt: `p${i}`, chosen: `a${i}`, rejected: `b${i}` });
  const text = [good(1), "", good(2), good(3), good(4)].join("\n");
  const opts = { ...OPTS, maxLines: 4 };
  for (const bytes of [enc(text), gzipSync(enc(text))]) {
    const result = parseDataset(bytes, "GENERIC", opts);
    assert.deepEqual(result.report.fatal, { line: 5, ...tooManyLines({ ...DEFAULT_DATASET_LIMITS, maxLines: 4 }) });
    assert.match(result.report.fatal!.reason, /more than 4 lines.*PARM_DATASET_MAX_LINES/);
    assert.equal(result.report.accepted, 3);
    assert.deepEqual((await streamInChunks(bytes, "GENERIC", [7, 30], opts)).report, result.report);
  }
  assert.equal(parseDataset(enc(text), "GENERIC", { ...OPTS, maxLines: 5 }).report.fatal, null);
});

test("NUL_CHARACTER: U+0000 raw or escaped in any string or key of a line is refused by line, with a field name", () => {
  const nul = "\u0000";
  const lines = [
    json({ prompt: "p", chosen: "a", rejected: "b" }), // 1 ok
    json({ prompt: `p${nul}`, chosen: "a", rejected: "b" }), // 2 prompt
    json({ prompt: "p", chosen: `a${nul}`, rejected: "b" }), // 3 chosen
    json({ prompt: "p", chosen: "a", rejected: `b${nul}` }), // 4 rejected
    json({ prompt: "p", chosen: "a", rejected: "c", meta: { tags: ["x", nul] } }), // 5 an extra field
    json({ prompt: "p", chosen: "a", rejected: "d", [`k${nul}`]: 1 }), // 6 a key
    `{"prompt":"p${nul}","chosen":"a","rejected":"b"}`, // 7 a raw NUL byte (not even JSON)
    json({ prompt: "p\\u0000 is how JSON spells it", chosen: "a", rejected: "e" }), // 8 ok: an escaped backslash
  ];
  const result = parseDataset(enc(lines.join("\n")), "GENERIC", OPTS);
  assert.deepEqual(issueList(result), [2, 3, 4, 5, 6, 7].map((line) => [line, "NUL_CHARACTER"]));
  assert.deepEqual(result.report.issues.slice(0, 4).map((i) => /field "([^"]+)"/.exec(i.reason)?.[1]), ["prompt", "chosen", "rejected", "meta.tags[1]"]);
  assert.ok(result.report.issues[4]!.reason.includes(String.raw`"k\u0000"`), result.report.issues[4]!.reason);
  assert.match(result.report.issues[5]!.reason, /NUL character \(U\+0000\) at character 13/);
  assert.ok(result.report.issues.every((i) => !i.reason.includes(nul)), "reasons are storable");
  assert.equal(result.report.accepted, 2);
  assert.match(judgeDatasetReport(result.report).accepted ? "" : "rejected", /rejected/);
  const pku = json({ prompt: "p", response_0: "a", response_1: "b", better_response_id: 0, safer_response_id: `1${nul}` });
  assert.deepEqual(issueList(parseDataset(enc(pku), "PKU_SAFERLHF", OPTS)), [[1, "NUL_CHARACTER"]]);
});
