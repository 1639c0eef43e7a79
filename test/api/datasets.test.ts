/** @module test/api/datasets — createDataset / uploadDataset / POST /v1/datasets/:id/records against real data
 *  (both HH-RLHF gzip test splits, the PKU-SafeRLHF sample) and hand-made broken files, over a real API. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { PreferenceRecordSchema } from "../../src/contracts/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const data = new URL("../../../shared/data/", import.meta.url);
const fixtures = new URL("../fixtures/datasets/", import.meta.url);
const HARMLESS = new URL("hh-rlhf/harmless-base.test.jsonl.gz", data);
const HELPFUL = new URL("hh-rlhf/helpful-base.test.jsonl.gz", data);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", data);

const DATASET_FIELDS = `id name format status recordCount byteSize sha256
  dimensionMap { label dimensionId } splitRatios { train validation test } splitCounts { train validation test }
  validationReport { totalLines accepted rejected gzip bytes issues { line code reason } countsByCode { code count }
    splitCounts { train validation test } labelCounts { label preferResponse0 preferResponse1 } }`;

const CREATE = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) {
  __typename
  ... on CreateDatasetSuccess { dataset { ${DATASET_FIELDS} } }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
} }`;

const UPLOAD = `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) {
  __typename
  ... on UploadDatasetSuccess { dataset { ${DATASET_FIELDS} } report { totalLines accepted rejected countsByCode { code count } } }
  ... on DatasetValidationFailed { message report { totalLines accepted rejected issuesTruncated issues { line code reason } countsByCode { code count } } }
  ... on QuotaExceeded { message quota limit }
  ... on NotFoundError { message id }
  ... on ValidationError { message field }
} }`;

let api: TestApi;
let artifacts: string;
let tenant: TestTenant;
let helpful: string;
let harmless: string;

async function createDimension(key: string, name: string): Promise<string> {
  const data = await api.gqlOk<{ createDimension: { dimension: { id: string } } }>(
    `mutation($input: CreateDimensionInput!) { createDimension(input: $input) { ... on CreateDimensionSuccess { dimension { id } } } }`,
    { input: { name } },
    key,
  );
  return data.createDimension.dimension.id;
}

async function createDataset(input: Record<string, unknown>, key = tenant.key) {
  return (await api.gqlOk<{ createDataset: Record<string, any> }>(CREATE, { input }, key)).createDataset;
}

async function uploadBase64(datasetId: string, bytes: Buffer, key = tenant.key) {
  return (await api.gqlOk<{ uploadDataset: Record<string, any> }>(UPLOAD, { input: { datasetId, contentBase64: bytes.toString("base64") } }, key))
    .uploadDataset;
}

async function streamUpload(datasetId: string, body: Uint8Array, key: string | null = tenant.key) {
  const res = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(datasetId)}/records`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function recordCount(datasetGlobalId: string): Promise<number> {
  const uuid = Buffer.from(datasetGlobalId, "base64").toString("utf8").split(":")[1]!;
  return api.db.system.datasetRecord.count({ where: { datasetId: uuid } });
}

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts)] });
  tenant = await api.createTenantWithKey();
  helpful = await createDimension(tenant.key, "helpfulness");
  harmless = await createDimension(tenant.key, "harmlessness");
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

describe("createDataset", () => {
  it("creates an EMPTY dataset with its label map and default split ratios", async () => {
    const payload = await createDataset({ name: "pku", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: harmless }] });
    assert.equal(payload.__typename, "CreateDatasetSuccess");
    const dataset = payload.dataset;
    assert.equal(dataset.status, "EMPTY");
    assert.equal(dataset.recordCount, 0);
    assert.deepEqual(dataset.splitRatios, { train: 0.9, validation: 0.05, test: 0.05 });
    assert.deepEqual(
      dataset.dimensionMap.map((m: any) => [m.label, m.dimensionId]).sort(),
      [["better", helpful], ["safer", harmless]].sort(),
    );
    assert.equal(dataset.validationReport, null);
  });

  it("names the field of each typed error", async () => {
    const missingLabel = await createDataset({ name: "x1", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }] });
    assert.equal(missingLabel.__typename, "ValidationError");
    assert.equal(missingLabel.field, "input.labels");
    assert.match(missingLabel.message, /missing: safer/);

    const wrongLabel = await createDataset({ name: "x2", format: "HH_RLHF", labels: [{ label: "safer", dimensionId: helpful }] });
    assert.equal(wrongLabel.__typename, "ValidationError");
    assert.equal(wrongLabel.field, "input.labels[0].label");

    const sameDimension = await createDataset({ name: "x3", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: helpful }] });
    assert.equal(sameDimension.__typename, "ValidationError");

    const badRatios = await createDataset({ name: "x4", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: helpful }], splitRatios: { train: 0.5, validation: 0.2, test: 0.2 } });
    assert.equal(badRatios.__typename, "ValidationError");
    assert.equal(badRatios.field, "input.splitRatios");

    const badId = await createDataset({ name: "x5", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: "not-an-id" }] });
    assert.equal(badId.__typename, "ValidationError");
    assert.equal(badId.field, "input.labels[0].dimensionId");

    const missing = Buffer.from("PreferenceDimension:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = await createDataset({ name: "x6", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: missing }] });
    assert.equal(notFound.__typename, "NotFoundError");
    assert.equal(notFound.id, missing);

    const first = await createDataset({ name: "dup", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: helpful }] });
    assert.equal(first.__typename, "CreateDatasetSuccess");
    const second = await createDataset({ name: "dup", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: helpful }] });
    assert.equal(second.__typename, "ValidationError");
    assert.equal(second.field, "input.name");
  });
});

describe("uploadDataset (GraphQL, base64)", () => {
  it("accepts the real PKU-SafeRLHF sample: 16 pairs, label counts from the file", async () => {
    const created = await createDataset({ name: "pku-real", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: harmless }] });
    const bytes = await readFile(PKU);
    const payload = await uploadBase64(created.dataset.id, bytes);
    assert.equal(payload.__typename, "UploadDatasetSuccess", JSON.stringify(payload));
    const dataset = payload.dataset;
    assert.equal(dataset.status, "READY");
    assert.equal(dataset.recordCount, 16);
    assert.equal(dataset.byteSize, 46430);
    assert.equal(dataset.sha256, "32025e6e5d4f876b20070c6c4628a9323b13c60dae4cf7d0e630fdc3fbb641aa");
    const report = dataset.validationReport;
    assert.equal(report.totalLines, 16);
    assert.equal(report.rejected, 0);
    assert.equal(report.gzip, false);
    const labels = Object.fromEntries(report.labelCounts.map((l: any) => [l.label, [l.preferResponse0, l.preferResponse1]]));
    assert.deepEqual(labels.better, [3, 13]); // README: better_response_id is 1 in 13 pairs
    assert.deepEqual(labels.safer, [4, 12]);
    const splits = dataset.splitCounts;
    assert.equal(splits.train + splits.validation + splits.test, 16);
    assert.equal(await recordCount(dataset.id), 16);

    // The runner snapshot: JSON Lines of contract PreferenceRecords with label names, in line order.
    const row = await api.db.system.dataset.findUnique({ where: { id: Buffer.from(dataset.id, "base64").toString("utf8").split(":")[1]! } });
    assert.ok(row?.snapshotKey?.startsWith("file://"), String(row?.snapshotKey));
    const lines = (await readFile(new URL(row!.snapshotKey!))).toString("utf8").trimEnd().split("\n");
    assert.equal(lines.length, 16);
    const records = lines.map((line) => PreferenceRecordSchema.parse(JSON.parse(line)));
    assert.deepEqual(records.map((r) => r.line), Array.from({ length: 16 }, (_, i) => i + 1));
    assert.deepEqual(Object.keys(records[0]!.preferences).sort(), ["better", "safer"]);
    assert.equal(records.filter((r) => r.preferences.better === 1).length, 13);

    const again = await uploadBase64(created.dataset.id, bytes);
    assert.equal(again.__typename, "ValidationError");
    assert.equal(again.field, "input.datasetId");
    assert.equal(await recordCount(dataset.id), 16);
  });

  it("rejects a broken file: line numbers, reasons and counts; nothing stored", async () => {
    const created = await createDataset({ name: "pku-broken", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: harmless }] });
    const payload = await uploadBase64(created.dataset.id, await readFile(new URL("pku-broken.jsonl", fixtures)));
    assert.equal(payload.__typename, "DatasetValidationFailed");
    const report = payload.report;
    assert.equal(report.totalLines, 6);
    assert.equal(report.accepted, 2);
    assert.equal(report.rejected, 4);
    assert.deepEqual(
      report.issues.map((i: any) => [i.line, i.code]),
      [[2, "MALFORMED_JSON"], [3, "MISSING_FIELD"], [4, "INVALID_LABEL"], [7, "MALFORMED_JSON"]],
    );
    assert.match(report.issues[1].reason, /response_1/);
    const counts = Object.fromEntries(report.countsByCode.map((c: any) => [c.code, c.count]));
    assert.deepEqual(counts, { MALFORMED_JSON: 2, MISSING_FIELD: 1, INVALID_LABEL: 1 });
    assert.match(payload.message, /line 2/);
    assert.equal(await recordCount(created.dataset.id), 0);
    const row = await api.db.system.dataset.findUnique({ where: { id: Buffer.from(created.dataset.id, "base64").toString("utf8").split(":")[1]! } });
    assert.equal(row?.snapshotKey, null);

    const { dataset } = await api.gqlOk<{ dataset: any }>(
      `query($id: ID!) { dataset: node(id: $id) { ... on Dataset { status recordCount byteSize validationReport { rejected } } } }`,
      { id: created.dataset.id },
      tenant.key,
    );
    assert.deepEqual(dataset, { status: "REJECTED", recordCount: 0, byteSize: 0, validationReport: { rejected: 4 } });

    // A REJECTED dataset takes a corrected upload.
    const fixed = await uploadBase64(created.dataset.id, await readFile(PKU));
    assert.equal(fixed.__typename, "UploadDatasetSuccess");
    assert.equal(fixed.dataset.status, "READY");
    assert.equal(fixed.dataset.validationReport.rejected, 0);
    assert.equal(await recordCount(created.dataset.id), 16);
  });

  it("rejects a file whose pairs are mostly unusable (identical responses)", async () => {
    const created = await createDataset({ name: "generic-identical", format: "GENERIC", labels: [{ label: "preferred", dimensionId: helpful }] });
    const payload = await uploadBase64(created.dataset.id, await readFile(new URL("generic-identical.jsonl", fixtures)));
    assert.equal(payload.__typename, "DatasetValidationFailed");
    assert.deepEqual(payload.report.issues.map((i: any) => [i.line, i.code]), [[1, "IDENTICAL_PAIR"], [2, "IDENTICAL_PAIR"]]);
    assert.equal(await recordCount(created.dataset.id), 0);
  });

  it("rejects a truncated gzip upload as CORRUPT_GZIP", async () => {
    const created = await createDataset({ name: "hh-truncated", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: harmless }] });
    const truncated = (await readFile(HARMLESS)).subarray(0, 20_000);
    const payload = await uploadBase64(created.dataset.id, truncated);
    assert.equal(payload.__typename, "DatasetValidationFailed");
    assert.match(payload.message, /CORRUPT_GZIP/);
    assert.equal(await recordCount(created.dataset.id), 0);
  });

  it("returns typed errors for a bad id, another type's id, a missing dataset and non-base64 content", async () => {
    const bad = await api.gqlOk<{ uploadDataset: any }>(UPLOAD, { input: { datasetId: "zzz", contentBase64: "e30=" } }, tenant.key);
    assert.equal(bad.uploadDataset.__typename, "ValidationError");
    assert.equal(bad.uploadDataset.field, "input.datasetId");
    const wrongType = await api.gqlOk<{ uploadDataset: any }>(UPLOAD, { input: { datasetId: helpful, contentBase64: "e30=" } }, tenant.key);
    assert.equal(wrongType.uploadDataset.__typename, "ValidationError");
    const missingId = Buffer.from("Dataset:00000000-0000-4000-8000-000000000000").toString("base64");
    const missing = await api.gqlOk<{ uploadDataset: any }>(UPLOAD, { input: { datasetId: missingId, contentBase64: "e30=" } }, tenant.key);
    assert.equal(missing.uploadDataset.__typename, "NotFoundError");
    const created = await createDataset({ name: "b64", format: "GENERIC", labels: [{ label: "preferred", dimensionId: helpful }] });
    const notBase64 = await api.gqlOk<{ uploadDataset: any }>(UPLOAD, { input: { datasetId: created.dataset.id, contentBase64: "%%%" } }, tenant.key);
    assert.equal(notBase64.uploadDataset.__typename, "ValidationError");
    assert.equal(notBase64.uploadDataset.field, "input.contentBase64");
  });
});

describe("POST /v1/datasets/:id/records (streaming)", () => {
  it("stores both real HH-RLHF gzip test splits, dropping the few unusable pairs, with deterministic splits", async () => {
    const expectations = [
      { file: HARMLESS, name: "hh-harmless", dimension: () => harmless, pairs: 2312 },
      { file: HELPFUL, name: "hh-helpful", dimension: () => helpful, pairs: 2354 },
    ];
    for (const { file, name, dimension, pairs } of expectations) {
      const created = await createDataset({ name, format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: dimension() }] });
      const { status, body } = await streamUpload(created.dataset.id, await readFile(file));
      assert.equal(status, 201, JSON.stringify(body).slice(0, 500));
      const report = body.report;
      assert.equal(report.gzip, true);
      assert.equal(report.totalLines, pairs);
      assert.equal(report.accepted + report.rejected, pairs);
      assert.ok(report.rejected > 0 && report.rejected < 20, `rejected ${report.rejected}`);
      const codes = new Set(report.countsByCode.map((c: any) => c.code));
      assert.ok([...codes].every((c) => ["IDENTICAL_PAIR", "PROMPT_PREFIX_MISMATCH", "EMPTY_RESPONSE"].includes(c as string)), [...codes].join());
      assert.equal(body.dataset.recordCount, report.accepted);
      assert.equal(await recordCount(created.dataset.id), report.accepted);
      const s = report.splitCounts;
      assert.equal(s.train + s.validation + s.test, report.accepted);
      assert.ok(s.train > 0.85 * report.accepted && s.test > 0 && s.validation > 0);
    }
    // Same bytes, another dataset with the same ratios: identical split assignment.
    const again = await createDataset({ name: "hh-harmless-2", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: harmless }] });
    const second = await streamUpload(again.dataset.id, await readFile(HARMLESS));
    assert.equal(second.status, 201);
    const splitsOf = async (globalId: string) => {
      const uuid = Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
      const rows = await api.db.system.datasetRecord.findMany({ where: { datasetId: uuid }, select: { line: true, split: true }, orderBy: { line: "asc" } });
      return rows.map((r) => `${r.line}:${r.split}`);
    };
    const first = (await api.gqlOk<{ datasets: any }>(`{ datasets(first: 100) { edges { node { id name } } } }`, {}, tenant.key)).datasets.edges
      .map((e: any) => e.node)
      .find((n: any) => n.name === "hh-harmless");
    assert.deepEqual(await splitsOf(first.id), await splitsOf(again.dataset.id));
  });

  it("answers 422 with the report for a broken body, 401 without a key, 404 for a missing dataset", async () => {
    const created = await createDataset({ name: "pku-stream-broken", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: harmless }] });
    const broken = await streamUpload(created.dataset.id, gzipSync(await readFile(new URL("pku-broken.jsonl", fixtures))));
    assert.equal(broken.status, 422);
    assert.equal(broken.body.error.type, "DatasetValidationFailed");
    assert.deepEqual(broken.body.error.report.issues.map((i: any) => i.line), [2, 3, 4, 7]);
    assert.equal(await recordCount(created.dataset.id), 0);

    const anonymous = await streamUpload(created.dataset.id, Buffer.from("{}"), null);
    assert.equal(anonymous.status, 401);
    const admin = await streamUpload(created.dataset.id, Buffer.from("{}"), api.adminKey);
    assert.equal(admin.status, 403);
    const missing = await streamUpload(Buffer.from("Dataset:00000000-0000-4000-8000-000000000000").toString("base64"), Buffer.from("{}"));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.type, "NotFoundError");
    const badId = await streamUpload("nope", Buffer.from("{}"));
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.field, "id");
  });

  it("enforces the stored-bytes quota with QuotaExceeded and stores nothing", async () => {
    const small = await api.createTenantWithKey(undefined, { maxDatasetBytes: 60_000 });
    const dim = await createDimension(small.key, "helpfulness");
    const a = await createDataset({ name: "a", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: dim }, { label: "safer", dimensionId: await createDimension(small.key, "harmlessness") }] }, small.key);
    const first = await streamUpload(a.dataset.id, await readFile(PKU), small.key);
    assert.equal(first.status, 201);
    const b = await createDataset({ name: "b", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: dim }] }, small.key);
    const second = await streamUpload(b.dataset.id, await readFile(HARMLESS), small.key);
    assert.equal(second.status, 413);
    assert.equal(second.body.error.type, "QuotaExceeded");
    assert.equal(second.body.error.quota, "maxDatasetBytes");
    assert.equal(second.body.error.limit, 60_000);
    assert.equal(await recordCount(b.dataset.id), 0);
    const viaGraphQL = await uploadBase64(b.dataset.id, await readFile(PKU), small.key);
    assert.equal(viaGraphQL.__typename, "QuotaExceeded");
  });

  it("serialises concurrent uploads into one dataset: one is stored, the other is refused", async () => {
    const created = await createDataset({ name: "pku-race", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: helpful }, { label: "safer", dimensionId: harmless }] });
    const bytes = await readFile(PKU);
    const [first, second] = await Promise.all([streamUpload(created.dataset.id, bytes), streamUpload(created.dataset.id, bytes)]);
    assert.deepEqual([first.status, second.status].sort(), [201, 400]);
    assert.equal(await recordCount(created.dataset.id), 16);
  });

  it("lists datasets filtered by status", async () => {
    const ready = await api.gqlOk<{ datasets: any }>(`{ datasets(first: 50, status: READY) { edges { node { name status } } } }`, {}, tenant.key);
    const names = ready.datasets.edges.map((e: any) => e.node.name);
    assert.ok(names.includes("pku-real"));
    assert.ok(ready.datasets.edges.every((e: any) => e.node.status === "READY"));
    assert.ok(!names.includes("generic-identical"));
    const rejected = await api.gqlOk<{ datasets: any }>(`{ datasets(first: 50, status: REJECTED) { edges { node { name } } } }`, {}, tenant.key);
    assert.ok(rejected.datasets.edges.map((e: any) => e.node.name).includes("generic-identical"));
  });
});
