/** @module test/api/dataset-limits — the upload limits (PARM_DATASET_MAX_*) over a real API: a 300 MiB gzip of
 *  newlines, a gzip over the expansion ratio, files over the line count and the decompressed size. Each is a
 *  DatasetValidationFailed whose fatal issue names the limit; nothing is stored and the server keeps answering. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { DATASET_LIMITS, DEFAULT_DATASET_LIMITS } from "../../src/contracts/index.ts";
import { datasetLimitsServiceFactory, localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { gzipOfRepeatedBytes } from "../helpers/gzip-bomb.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const UPLOAD = `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) {
  __typename
  ... on DatasetValidationFailed { message report { totalLines accepted issues { line code reason } } }
  ... on Error { message }
} }`;

interface Setup {
  api: TestApi;
  tenant: TestTenant;
  dimension: string;
}

const line = (i: number) => JSON.stringify({ prompt: `prompt ${i}`, chosen: `yes ${i}`, rejected: `no ${i}` });
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function setUp(api: TestApi): Promise<Setup> {
  const tenant = await api.createTenantWithKey();
  const data = await api.gqlOk<any>(
    `mutation { createDimension(input: { name: "helpfulness" }) { ... on CreateDimensionSuccess { dimension { id } } } }`,
    {},
    tenant.key,
  );
  return { api, tenant, dimension: data.createDimension.dimension.id };
}

async function createDataset(s: Setup, name: string): Promise<string> {
  const data = await s.api.gqlOk<any>(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`,
    { input: { name, format: "GENERIC", labels: [{ label: "preferred", dimensionId: s.dimension }] } },
    s.tenant.key,
  );
  assert.ok(data.createDataset.dataset, JSON.stringify(data));
  return data.createDataset.dataset.id;
}

async function streamUpload(s: Setup, datasetId: string, body: Uint8Array) {
  const res = await fetch(`${s.api.url}/v1/datasets/${encodeURIComponent(datasetId)}/records`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", authorization: `Bearer ${s.tenant.key}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function uploadBase64(s: Setup, datasetId: string, bytes: Buffer) {
  return (await s.api.gqlOk<any>(UPLOAD, { input: { datasetId, contentBase64: bytes.toString("base64") } }, s.tenant.key)).uploadDataset;
}

/** The dataset is REJECTED with the fatal issue in its stored report, holds no record and no snapshot; the API answers. */
async function assertNothingStored(s: Setup, datasetId: string, code: string): Promise<void> {
  const row = await s.api.db.system.dataset.findUnique({ where: { id: uuidOf(datasetId) } });
  assert.equal(row?.status, "REJECTED");
  assert.equal(row?.recordCount, 0);
  assert.equal(row?.snapshotKey, null);
  assert.equal((row?.validationReport as { fatal?: { code?: string } } | null)?.fatal?.code, code);
  assert.equal(await s.api.db.system.datasetRecord.count({ where: { datasetId: uuidOf(datasetId) } }), 0);
  const viewer = await s.api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Dataset { status recordCount } } }`, { id: datasetId }, s.tenant.key);
  assert.deepEqual(viewer.node, { status: "REJECTED", recordCount: 0 });
}

function fatalIssue(issues: { code: string; reason: string; line: number }[], code: string) {
  const issue = issues.find((i) => i.code === code);
  assert.ok(issue, `no ${code} in ${JSON.stringify(issues)}`);
  return issue;
}

describe("default limits", () => {
  let s: Setup;
  let artifacts: string;
  let bomb: Buffer;
  before(async () => {
    artifacts = await mkdtemp(join(tmpdir(), "parm-limits-"));
    const api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts), datasetLimitsServiceFactory] });
    s = await setUp(api);
    bomb = await gzipOfRepeatedBytes(300);
  });
  after(async () => {
    await s?.api.stop();
    await rm(artifacts, { recursive: true, force: true });
  });

  it("refuses a 300 MiB gzip of newlines on the streaming route by the expansion ratio, at once", async () => {
    assert.ok(bomb.length < 400_000, `the bomb is ${bomb.length} bytes`);
    const id = await createDataset(s, "bomb-stream");
    const started = performance.now();
    const { status, body } = await streamUpload(s, id, bomb);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(status, 422, JSON.stringify(body).slice(0, 400));
    assert.equal(body.error.type, "DatasetValidationFailed");
    const issue = fatalIssue(body.error.report.issues, "EXPANSION_RATIO_EXCEEDED");
    assert.match(issue.reason, new RegExp(`more than ${DEFAULT_DATASET_LIMITS.maxExpansionRatio}-fold.*${DATASET_LIMITS.maxExpansionRatio.env}`));
    assert.equal(body.error.report.totalLines, 0);
    assert.ok(seconds < 10, `refused after ${seconds.toFixed(1)} s`); // generous: about 0.1 s on 2 cores
    await assertNothingStored(s, id, "EXPANSION_RATIO_EXCEEDED");
  });

  it("refuses the same bomb sent inline through GraphQL", async () => {
    const id = await createDataset(s, "bomb-inline");
    const payload = await uploadBase64(s, id, bomb);
    assert.equal(payload.__typename, "DatasetValidationFailed", JSON.stringify(payload).slice(0, 400));
    assert.match(payload.message, /EXPANSION_RATIO_EXCEEDED/);
    fatalIssue(payload.report.issues, "EXPANSION_RATIO_EXCEEDED");
    await assertNothingStored(s, id, "EXPANSION_RATIO_EXCEEDED");
  });

  it("refuses a gzip of valid records that expands beyond the ratio", async () => {
    // 8 MiB of 1 KiB records: ~1000 pass before the ratio is judged at 1 MiB (and are rolled back).
    const record = `${JSON.stringify({ prompt: "p".repeat(1000), chosen: "a", rejected: "b" })}\n`;
    const repetitive = gzipSync(Buffer.from(record.repeat(8 * 1024)));
    assert.ok(repetitive.length * DEFAULT_DATASET_LIMITS.maxExpansionRatio < 8 * 1024 * record.length, `${repetitive.length} compressed bytes`);
    const id = await createDataset(s, "repetitive");
    const { status, body } = await streamUpload(s, id, repetitive);
    assert.equal(status, 422);
    const issue = fatalIssue(body.error.report.issues, "EXPANSION_RATIO_EXCEEDED");
    assert.ok(issue.line > 1, "the ratio is judged after the first MiB");
    await assertNothingStored(s, id, "EXPANSION_RATIO_EXCEEDED");
  });
});

describe("limits from PARM_DATASET_MAX_* (lines 1000, ratio off, 64 KiB decompressed)", () => {
  let s: Setup;
  const env = { PARM_DATASET_MAX_LINES: "1000", PARM_DATASET_MAX_EXPANSION_RATIO: "1032", PARM_DATASET_MAX_DECOMPRESSED_BYTES: "65536" };
  before(async () => {
    const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
    Object.assign(process.env, env);
    try {
      s = await setUp(await startTestApi({ serviceFactories: [datasetLimitsServiceFactory] }));
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
  after(async () => {
    await s?.api.stop();
  });

  it("refuses line 1001 of a plain file with TOO_MANY_LINES naming PARM_DATASET_MAX_LINES", async () => {
    const text = Array.from({ length: 1001 }, (_, i) => line(i)).join("\n");
    assert.ok(text.length < 65536);
    const id = await createDataset(s, "lines");
    const payload = await uploadBase64(s, id, Buffer.from(text));
    assert.equal(payload.__typename, "DatasetValidationFailed", JSON.stringify(payload).slice(0, 400));
    const issue = fatalIssue(payload.report.issues, "TOO_MANY_LINES");
    assert.equal(issue.line, 1001);
    assert.match(issue.reason, /more than 1000 lines.*PARM_DATASET_MAX_LINES/);
    assert.match(payload.message, /line 1001 TOO_MANY_LINES/);
    await assertNothingStored(s, id, "TOO_MANY_LINES");
    const fits = await createDataset(s, "lines-ok");
    const accepted = await uploadBase64(s, fits, Buffer.from(text.slice(0, text.lastIndexOf("\n"))));
    assert.equal(accepted.__typename, "UploadDatasetSuccess", JSON.stringify(accepted).slice(0, 400));
  });

  it("with the ratio off, refuses the 300 MiB newline bomb by the line count (blank lines count)", async () => {
    const id = await createDataset(s, "bomb-lines");
    const { status, body } = await streamUpload(s, id, await gzipOfRepeatedBytes(300));
    assert.equal(status, 422);
    assert.equal(fatalIssue(body.error.report.issues, "TOO_MANY_LINES").line, 1001);
    await assertNothingStored(s, id, "TOO_MANY_LINES");
  });

  it("refuses more than PARM_DATASET_MAX_DECOMPRESSED_BYTES as TOO_LARGE (a validation failure, not the tenant quota)", async () => {
    const text = Array.from({ length: 900 }, (_, i) => line(i).padEnd(100, " ")).join("\n");
    const id = await createDataset(s, "bytes");
    const { status, body } = await streamUpload(s, id, gzipSync(Buffer.from(text)));
    assert.equal(status, 422, JSON.stringify(body).slice(0, 400));
    assert.match(fatalIssue(body.error.report.issues, "TOO_LARGE").reason, /exceeds 65536 bytes after decompression.*PARM_DATASET_MAX_DECOMPRESSED_BYTES/);
    await assertNothingStored(s, id, "TOO_LARGE");
  });
});
