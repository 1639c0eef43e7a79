/**
 * @module test/api/downloads — the `/v1/files/…` downloads over a real API: adapters (PARM and one GenARM dimension),
 * models the platform stored (an upload, a trained evaluator) and never one registered by location, a TRAIN job's
 * latest checkpoint, an evaluation's report JSON (the runner's, or built from the rows) and Pareto plot SVG, and a
 * dataset's records as JSON Lines with their split (the 2 354-pair HH-RLHF helpful test split, streamed in pages).
 * Each answer's bytes are compared by sha256 with what was stored; headers (type, length, disposition, ETag, 304,
 * HEAD); another tenant's ids answer 404, malformed ids 400, anonymous 401, the admin key 403. Runner artifacts are in
 * the server bus's artifact store (the NATS object store when NATS_URL is set, as `npm test` does); a second api
 * stores uploads and snapshots there too, and deleteEvaluation deletes the stored report and plot.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readArtifact } from "../../src/bus/index.ts";
import { busArtifactServices } from "../../src/api/ingest/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { buildParetoReport, renderParetoSvg } from "../../src/gpu-runner/engine/pareto/index.ts";
import { deleteMutation, domainClient, globalId, STORIES_GGUF, tinyGguf, uuidOf, type DomainClient } from "../helpers/domain-fixtures.ts";
import { SHARED_DATA_DIR, startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const HELPFUL = join(SHARED_DATA_DIR, "hh-rlhf/helpful-base.test.jsonl.gz");

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

let api: TestApi;
let artifactsDir: string;
let t: TestTenant;
let c: DomainClient;
let other: TestTenant;

async function get(path: string, key?: string, headers: Record<string, string> = {}, method = "GET"): Promise<Response> {
  return fetch(`${api.url}${path}`, { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
}

async function body(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** GET that must answer 200; returns the response and its bytes. */
async function download(path: string, key = t.key): Promise<{ res: Response; bytes: Buffer }> {
  const res = await get(path, key);
  const bytes = await body(res);
  assert.equal(res.status, 200, `${path}: ${bytes.toString("utf8").slice(0, 500)}`);
  return { res, bytes };
}

/** An error answer: status and the JSON `error` object. */
async function refusal(path: string, key: string | undefined, status: number): Promise<Record<string, any>> {
  const res = await get(path, key);
  const text = await res.text();
  assert.equal(res.status, status, `${path}: ${text}`);
  const json = JSON.parse(text) as Record<string, any>;
  return json.error ?? json.errors?.[0];
}

/** Every tenancy and auth refusal of one download path of `t`'s object. */
async function assertGuarded(path: string): Promise<void> {
  const foreign = await refusal(path, other.key, 404);
  assert.equal(foreign.type, "NotFoundError", `${path} as another tenant: ${JSON.stringify(foreign)}`);
  const anonymous = await refusal(path, undefined, 401);
  assert.equal(anonymous.extensions?.code, "UNAUTHENTICATED");
  const admin = await refusal(path, api.adminKey, 403);
  assert.equal(admin.extensions?.code, "FORBIDDEN");
}

/** A TRAIN job (queued) of `t`: its global id and uuid. */
async function trainJob(name: string, model: string, dims: string[], dataset: string): Promise<{ job: string; jobUuid: string }> {
  const job = await c.startTraining(name, model, dims, dataset);
  return { job, jobUuid: uuidOf(job) };
}

/** An EVALUATE job (RUNNING) and its Evaluation as rows, with three points ingested; the engine's report of them. */
async function evaluationWithPoints(target: TestApi, tenant: TestTenant) {
  const base = await target.db.system.model.create({
    data: { tenantId: tenant.uuid, name: `eval-base-${randomUUID().slice(0, 8)}`, kind: "BASE", format: "GGUF", location: STORIES_GGUF.href },
  });
  const adapterRow = await target.db.system.adapter.create({
    data: {
      tenantId: tenant.uuid, name: `arm-${randomUUID().slice(0, 8)}`, method: "PARM", baseModelId: base.id, dimensionIds: [],
      dimensionNames: ["helpful", "harmless"], r1: 1, r2: 1, loraAlpha: 1, targets: [], trainingConfig: {},
    },
  });
  const job = await target.db.system.job.create({
    data: { tenantId: tenant.uuid, kind: "EVALUATE", status: "RUNNING", payload: { adapter: { dimensions: [{ name: "helpful" }, { name: "harmless" }] } } },
  });
  const evaluation = await target.db.system.evaluation.create({
    data: { tenantId: tenant.uuid, jobId: job.id, adapterId: adapterRow.id, gridStep: 0.5, promptCount: 2, evaluatorIds: [], status: "RUNNING" },
  });
  const points = [
    { alpha: [0, 1], rewards: [-1, 2] },
    { alpha: [0.5, 0.5], rewards: [0.5, 1] },
    { alpha: [1, 0], rewards: [1.5, -0.5] },
  ];
  for (const [index, p] of points.entries()) {
    await ingestJobEvent(target.db, target.server.pubSub, job.id, index + 1, { type: "point", index, alpha: p.alpha, rewards: p.rewards, promptCount: 2 });
  }
  const report = buildParetoReport(points, { objectiveNames: ["helpful", "harmless"], referencePoint: [-2, -2] });
  return { jobId: job.id, id: globalId("Evaluation", evaluation.id), report, svg: renderParetoSvg(report) };
}

/** Stores the runner's report and plot of `e` and ingests its artifact and completed events (seq 4–6). */
async function completeWithFiles(target: TestApi, tenantUuid: string, e: Awaited<ReturnType<typeof evaluationWithPoints>>) {
  const prefix = `evaluations/${tenantUuid}/${e.jobId}`;
  const report = await target.bus.artifacts.put(`${prefix}/report.json`, Buffer.from(JSON.stringify(e.report)));
  const plot = await target.bus.artifacts.put(`${prefix}/plot.svg`, Buffer.from(e.svg));
  await ingestJobEvent(target.db, target.server.pubSub, e.jobId, 4, { type: "artifact", kind: "report", key: report.key, sha256: report.sha256, sizeBytes: report.sizeBytes });
  await ingestJobEvent(target.db, target.server.pubSub, e.jobId, 5, { type: "artifact", kind: "report", key: plot.key, sha256: plot.sha256, sizeBytes: plot.sizeBytes });
  await ingestJobEvent(target.db, target.server.pubSub, e.jobId, 6, {
    type: "completed", durationSeconds: 3, metrics: { points: 3 },
    evaluation: { hypervolume: e.report.hypervolume, referencePoint: e.report.referencePoint, mip: e.report.mip, frontIndices: e.report.front, reportFile: report, plotFile: plot },
  });
  return { report, plot };
}

describe("downloads under /v1/files", () => {
  let dims: string[];
  let baseModel: string;
  let pku: string;

  before(async () => {
    artifactsDir = await mkdtemp(join(tmpdir(), "parm-downloads-"));
    api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifactsDir)] });
    t = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50 });
    other = await api.createTenantWithKey();
    c = domainClient(api, t.key, t.uuid);
    dims = await c.dimensions(["helpful", "harmless"]);
    baseModel = (await c.registerModel({ name: "stories", kind: "BASE", location: STORIES_GGUF.href })).model.id;
    pku = await c.pkuDataset("pku", dims);
  });
  after(async () => {
    await api?.stop();
    await rm(artifactsDir, { recursive: true, force: true });
  });

  it("a PARM adapter: the stored safetensors bytes with length, ETag = sha256 and the adapter's name; HEAD, 304, tenancy", async () => {
    const { jobUuid } = await trainJob("parm-help harm", baseModel, dims, pku);
    const key = `adapters/${t.uuid}/${jobUuid}/adapter.safetensors`;
    const file = randomBytes(3 * 1024 * 1024 + 17);
    const stored = await api.bus.artifacts.put(key, file);
    await ingestJobEvent(api.db, api.server.pubSub, jobUuid, 1, { type: "artifact", kind: "adapter", key, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    await ingestJobEvent(api.db, api.server.pubSub, jobUuid, 2, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: key });
    const adapter = globalId("Adapter", (await api.db.system.adapter.findFirstOrThrow({ where: { jobId: jobUuid } })).id);

    const listed = await api.gqlOk<any>(`query { adapters(first: 5) { edges { node { id downloadUrl dimensionDownloadUrls } } } }`, {}, t.key);
    const node = listed.adapters.edges.find((e: any) => e.node.id === adapter).node;
    assert.equal(node.downloadUrl, `/v1/files/adapters/${encodeURIComponent(adapter)}`);
    assert.deepEqual(node.dimensionDownloadUrls, []);

    const { res, bytes } = await download(node.downloadUrl);
    assert.equal(sha256(bytes), sha256(file));
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("content-length"), String(file.length));
    assert.equal(res.headers.get("etag"), `"${sha256(file)}"`);
    assert.equal(res.headers.get("content-disposition"), `attachment; filename="parm-help harm.safetensors"; filename*=UTF-8''parm-help%20harm.safetensors`);
    assert.equal(res.headers.get("cache-control"), "private, no-cache");

    const head = await get(node.downloadUrl, t.key, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(file.length));
    assert.equal((await body(head)).length, 0);
    const cached = await get(node.downloadUrl, t.key, { "if-none-match": `"${sha256(file)}"` });
    assert.equal(cached.status, 304);
    assert.equal((await get(node.downloadUrl, t.key, { "if-none-match": `"${"0".repeat(64)}"` })).status, 200);

    const perDimension = await refusal(`${node.downloadUrl}/dimensions/0`, t.key, 409);
    assert.equal(perDimension.type, "NotDownloadable");
    assert.match(perDimension.message, /PARM adapter: one file for all its dimensions/);
    await assertGuarded(node.downloadUrl);
  });

  it("a GenARM adapter: each dimension's file from its manifest; the adapter path names them; a bad index is 400", async () => {
    const folder = `adapters/${t.uuid}/${randomUUID()}`;
    const files = [randomBytes(1000), randomBytes(2000)];
    const entries = [];
    for (const [i, f] of files.entries()) {
      const stored = await api.bus.artifacts.put(`${folder}/adapter-${i}.safetensors`, f);
      entries.push({ key: stored.key, sha256: stored.sha256, dimensions: [["helpful", "harmless"][i]] });
    }
    await api.bus.artifacts.put(`${folder}/manifest.json`, Buffer.from(JSON.stringify({ method: "GENARM", adapters: entries })));
    const row = await api.db.system.adapter.create({
      data: {
        tenantId: t.uuid, name: "genarm", method: "GENARM", baseModelId: uuidOf(baseModel), dimensionIds: dims.map(uuidOf),
        dimensionNames: ["helpful", "harmless"], r1: 4, r2: 4, loraAlpha: 8, targets: [], trainingConfig: {}, artifactKey: `${folder}/manifest.json`,
      },
    });
    const adapter = globalId("Adapter", row.id);
    const node = (await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Adapter { downloadUrl dimensionDownloadUrls } } }`, { id: adapter }, t.key)).node;
    assert.equal(node.downloadUrl, null);
    assert.equal(node.dimensionDownloadUrls.length, 2);
    for (const [i, f] of files.entries()) {
      const { res, bytes } = await download(node.dimensionDownloadUrls[i]);
      assert.equal(sha256(bytes), sha256(f));
      assert.equal(res.headers.get("etag"), `"${sha256(f)}"`);
      assert.equal(res.headers.get("x-parm-dimension"), ["helpful", "harmless"][i]);
      assert.match(res.headers.get("content-disposition")!, new RegExp(`filename="genarm-${["helpful", "harmless"][i]}.safetensors"`));
    }
    const whole = await refusal(`/v1/files/adapters/${encodeURIComponent(adapter)}`, t.key, 409);
    assert.match(whole.message, /GenARM adapter: one file per dimension; download .*dimensions\/0, .*dimensions\/1/);
    assert.equal((await refusal(`/v1/files/adapters/${encodeURIComponent(adapter)}/dimensions/2`, t.key, 400)).field, "index");
    assert.equal((await refusal(`/v1/files/adapters/${encodeURIComponent(adapter)}/dimensions/x`, t.key, 400)).field, "index");
    await assertGuarded(node.dimensionDownloadUrls[1]);
  });

  it("models: an upload and a trained evaluator are served; a file registered by location is 409; ids are checked", async () => {
    const gguf = tinyGguf(["a", "b", "c", "d"]);
    const uploaded = await c.registerModel({ name: "tiny-up", kind: "BASE", upload: { fileName: "tiny.gguf", contentBase64: gguf.toString("base64") } });
    assert.equal(uploaded.__typename, "RegisterModelSuccess", JSON.stringify(uploaded));
    assert.match(uploaded.model.location, /^file:\/\//, "the local upload store");
    const upNode = (await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Model { downloadUrl sha256 } } }`, { id: uploaded.model.id }, t.key)).node;
    const up = await download(upNode.downloadUrl);
    assert.equal(sha256(up.bytes), sha256(gguf));
    assert.equal(up.res.headers.get("etag"), `"${upNode.sha256}"`);
    assert.match(up.res.headers.get("content-disposition")!, /filename="tiny-up\.gguf"/);
    await assertGuarded(upNode.downloadUrl);

    const jobRow = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "TRAIN_EVALUATOR", status: "SUCCEEDED", payload: {} } });
    const evaluatorBytes = randomBytes(50_000);
    const stored = await api.bus.artifacts.put(`evaluators/${t.uuid}/${jobRow.id}/evaluator.safetensors`, evaluatorBytes);
    const evaluator = await api.db.system.model.create({
      data: {
        tenantId: t.uuid, name: "helpful-rm", kind: "EVALUATOR", format: "GGUF", location: `obj://artifacts/${stored.key}`,
        sha256: stored.sha256, dimensionId: uuidOf(dims[0]!), jobId: jobRow.id,
      },
    });
    const ev = await download(`/v1/files/models/${encodeURIComponent(globalId("Model", evaluator.id))}`);
    assert.equal(sha256(ev.bytes), sha256(evaluatorBytes));
    assert.equal(ev.res.headers.get("etag"), `"${stored.sha256}"`);
    assert.match(ev.res.headers.get("content-disposition")!, /filename="helpful-rm\.safetensors"/);

    const byLocation = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Model { downloadUrl } } }`, { id: baseModel }, t.key);
    assert.equal(byLocation.node.downloadUrl, null);
    const refused = await refusal(`/v1/files/models/${encodeURIComponent(baseModel)}`, t.key, 409);
    assert.equal(refused.type, "NotDownloadable");
    assert.equal(refused.id, baseModel);
    assert.match(refused.message, /registered by location .*: the platform stores no copy of it/);

    assert.equal((await refusal("/v1/files/models/not-an-id", t.key, 400)).field, "id");
    const wrongType = await refusal(`/v1/files/models/${encodeURIComponent(globalId("Adapter", randomUUID()))}`, t.key, 400);
    assert.match(wrongType.message, /expected a Model id, got a Adapter id/);
    assert.equal((await refusal(`/v1/files/models/${encodeURIComponent(globalId("Model", randomUUID()))}`, t.key, 404)).type, "NotFoundError");
  });

  it("the latest checkpoint of a TRAIN job, with its step; none stored, or another job kind, is 409", async () => {
    const { job, jobUuid } = await trainJob("with-checkpoint", baseModel, dims, pku);
    const checkpoint = randomBytes(2 * 1024 * 1024 + 5);
    const stored = await api.bus.artifacts.put(`checkpoints/${jobUuid}`, checkpoint);
    await ingestJobEvent(api.db, api.server.pubSub, jobUuid, 1, { type: "artifact", kind: "checkpoint", key: stored.key, sha256: stored.sha256, sizeBytes: stored.sizeBytes, step: 7 });
    const url = (await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Job { checkpointDownloadUrl } } }`, { id: job }, t.key)).node.checkpointDownloadUrl;
    assert.equal(url, `/v1/files/jobs/${encodeURIComponent(job)}/checkpoint`);
    const { res, bytes } = await download(url);
    assert.equal(sha256(bytes), sha256(checkpoint));
    assert.equal(res.headers.get("etag"), `"${sha256(checkpoint)}"`);
    assert.equal(res.headers.get("x-parm-checkpoint-step"), "7");
    assert.match(res.headers.get("content-disposition")!, /filename="with-checkpoint-step-7\.checkpoint"/);
    await assertGuarded(url);

    // Replaced by a checkpoint whose event has not arrived: the bytes are the new ones, with no (wrong) ETag.
    const newer = randomBytes(1000);
    await api.bus.artifacts.put(`checkpoints/${jobUuid}`, newer);
    const replaced = await download(url);
    assert.equal(sha256(replaced.bytes), sha256(newer));
    assert.equal(replaced.res.headers.get("etag"), null);

    const { job: bare } = await trainJob("no-checkpoint", baseModel, dims, pku);
    assert.match((await refusal(`/v1/files/jobs/${encodeURIComponent(bare)}/checkpoint`, t.key, 409)).message, /has no stored checkpoint/);
    const generate = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "GENERATE", status: "SUCCEEDED", payload: {} } });
    assert.match((await refusal(`/v1/files/jobs/${encodeURIComponent(globalId("Job", generate.id))}/checkpoint`, t.key, 409)).message, /is a GENERATE job; only TRAIN jobs store checkpoints/);
  });

  it("an evaluation's report JSON and Pareto plot SVG as the runner stored them", async () => {
    const e = await evaluationWithPoints(api, t);
    const before = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Evaluation { downloadUrl plotDownloadUrl } } }`, { id: e.id }, t.key);
    assert.equal(before.node.plotDownloadUrl, null, "no plot before completion");
    const stored = await completeWithFiles(api, t.uuid, e);
    const node = (await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Evaluation { status downloadUrl plotDownloadUrl } } }`, { id: e.id }, t.key)).node;
    assert.equal(node.status, "SUCCEEDED");
    assert.equal(node.downloadUrl, `/v1/files/evaluations/${encodeURIComponent(e.id)}/report.json`);
    assert.equal(node.plotDownloadUrl, `/v1/files/evaluations/${encodeURIComponent(e.id)}/plot.svg`);

    const report = await download(node.downloadUrl);
    assert.equal(sha256(report.bytes), stored.report.sha256);
    assert.equal(report.res.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(report.res.headers.get("x-parm-report-source"), "runner");
    assert.equal(report.res.headers.get("etag"), `"${stored.report.sha256}"`);
    assert.deepEqual(JSON.parse(report.bytes.toString("utf8")), JSON.parse(JSON.stringify(e.report)));
    const plot = await download(node.plotDownloadUrl);
    assert.equal(sha256(plot.bytes), stored.plot.sha256);
    assert.equal(plot.res.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    assert.equal(plot.res.headers.get("x-content-type-options"), "nosniff");
    assert.ok(plot.bytes.toString("utf8").startsWith("<svg"));
    await assertGuarded(node.downloadUrl);
    await assertGuarded(node.plotDownloadUrl);
  });

  it("an evaluation without a stored report: a report built from its row and points; no plot (409)", async () => {
    const e = await evaluationWithPoints(api, t);
    await ingestJobEvent(api.db, api.server.pubSub, e.jobId, 4, {
      type: "completed", durationSeconds: 2, metrics: { points: 3 },
      evaluation: { hypervolume: e.report.hypervolume, referencePoint: [-2, -2], mip: e.report.mip, frontIndices: e.report.front },
    });
    const { res, bytes } = await download(`/v1/files/evaluations/${encodeURIComponent(e.id)}/report.json`);
    assert.equal(res.headers.get("x-parm-report-source"), "database");
    assert.equal(res.headers.get("etag"), `"${sha256(bytes)}"`);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    const report = JSON.parse(bytes.toString("utf8"));
    assert.equal(report.kind, "parm.evaluation-report");
    assert.equal(report.status, "SUCCEEDED");
    assert.deepEqual(report.objectiveNames, ["helpful", "harmless"]);
    assert.equal(report.hypervolume, e.report.hypervolume);
    assert.equal(report.mip, e.report.mip);
    assert.deepEqual(report.referencePoint, [-2, -2]);
    assert.deepEqual(report.front, e.report.front);
    assert.deepEqual(
      report.points.map((p: any) => [p.index, p.alpha, p.rewards, p.label, p.onFront]),
      e.report.points.map((p) => [p.index, p.alpha, p.rewards, p.label, p.onFront]),
    );
    const plot = await refusal(`/v1/files/evaluations/${encodeURIComponent(e.id)}/plot.svg`, t.key, 409);
    assert.match(plot.message, /has no plot: its runner stored none/);
    await assertGuarded(`/v1/files/evaluations/${encodeURIComponent(e.id)}/report.json`);
  });

  it("a dataset's records as JSON Lines with their split, streamed in pages (2 354 HH-RLHF pairs); not READY is 409", async () => {
    const [helpful] = dims;
    const created = await api.gqlOk<any>(
      `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id downloadUrl } } ... on Error { message } } }`,
      { input: { name: "helpful-test", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: helpful }] } },
      t.key,
    );
    const dataset = created.createDataset.dataset;
    assert.equal(dataset.downloadUrl, null, "an EMPTY dataset has nothing to download");
    assert.match((await refusal(`/v1/files/datasets/${encodeURIComponent(dataset.id)}/records.jsonl`, t.key, 409)).message, /is EMPTY: no records were uploaded yet/);
    const upload = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(dataset.id)}/records`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.key}` },
      body: await readFile(HELPFUL),
    });
    assert.equal(upload.status, 201, await upload.clone().text());
    const uploaded = (await upload.json()) as { dataset: { recordCount: number } };
    const row = await api.db.system.dataset.findUniqueOrThrow({ where: { id: uuidOf(dataset.id) } });
    assert.ok(row.recordCount > 2000);
    const url = (await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Dataset { downloadUrl } } }`, { id: dataset.id }, t.key)).node.downloadUrl;
    assert.equal(url, `/v1/files/datasets/${encodeURIComponent(dataset.id)}/records.jsonl`);

    const res = await get(url, t.key);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
    assert.equal(res.headers.get("content-length"), null, "streamed without a length");
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    assert.equal(res.headers.get("x-parm-record-count"), String(row.recordCount));
    assert.match(res.headers.get("etag")!, /^W\/"dataset-/);
    let chunks = 0;
    const parts: Buffer[] = [];
    for await (const chunk of res.body!) {
      chunks++;
      parts.push(Buffer.from(chunk));
    }
    const bytes = Buffer.concat(parts);
    assert.ok(chunks > 1, `several chunks (${chunks})`);
    // The same bytes as the runner snapshot written at upload (one transaction, 1 000-record pages).
    assert.equal(sha256(bytes), sha256(await readFile(fileURLToPath(row.snapshotKey!))));
    const lines = bytes.toString("utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, uploaded.dataset.recordCount);
    const counts: Record<string, number> = { TRAIN: 0, VALIDATION: 0, TEST: 0 };
    let previous = 0;
    for (const line of lines) {
      assert.ok(line.line > previous, "in line order");
      previous = line.line;
      assert.ok(["TRAIN", "VALIDATION", "TEST"].includes(line.split));
      counts[line.split]!++;
      assert.equal(typeof line.prompt, "string");
      assert.deepEqual(Object.keys(line.preferences), ["preferred"]);
    }
    const expected = row.splitCounts as Record<string, number>;
    for (const split of ["TRAIN", "VALIDATION", "TEST"]) assert.equal(counts[split], expected[split] ?? 0, split);
    const sample = await api.db.system.datasetRecord.findFirstOrThrow({ where: { datasetId: row.id, line: lines[1234].line } });
    assert.deepEqual([lines[1234].prompt, lines[1234].response0, lines[1234].response1, lines[1234].split], [sample.prompt, sample.response0, sample.response1, sample.split]);

    // A client that reads one chunk and goes away: the server stays fine.
    const early = await get(url, t.key);
    const reader = early.body!.getReader();
    assert.ok((await reader.read()).value!.length > 0);
    await reader.cancel();
    assert.equal((await get(`/v1/files/datasets/${encodeURIComponent(pku)}/records.jsonl`, t.key)).status, 200);
    await assertGuarded(url);
  });
});

describe("downloads with uploads and snapshots in the bus's artifact store", () => {
  let objApi: TestApi;
  before(async () => {
    objApi = await startTestApi({ serviceFactories: [({ bus }) => busArtifactServices(bus.artifacts)] });
  });
  after(async () => {
    await objApi?.stop();
  });

  it("an uploaded model and a dataset's records from obj:// locations; deleteEvaluation deletes the stored report and plot", async () => {
    const tenant = await objApi.createTenantWithKey();
    const client = domainClient(objApi, tenant.key, tenant.uuid);
    const gguf = tinyGguf(["x", "y", "z"]);
    const uploaded = await client.registerModel({ name: "tiny", kind: "BASE", upload: { fileName: "t.gguf", contentBase64: gguf.toString("base64") } });
    assert.match(uploaded.model.location, /^obj:\/\/artifacts\/models\//);
    const res = await fetch(`${objApi.url}/v1/files/models/${encodeURIComponent(uploaded.model.id)}`, { headers: { authorization: `Bearer ${tenant.key}` } });
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(gguf));

    const d = await client.dimensions(["helpful", "harmless"]);
    const dataset = await client.pkuDataset("pku", d);
    const snapshotKey = (await objApi.db.system.dataset.findUniqueOrThrow({ where: { id: uuidOf(dataset) } })).snapshotKey!.replace(/^obj:\/\/artifacts\//, "");
    const records = await fetch(`${objApi.url}/v1/files/datasets/${encodeURIComponent(dataset)}/records.jsonl`, { headers: { authorization: `Bearer ${tenant.key}` } });
    assert.equal(records.status, 200);
    const recordBytes = Buffer.from(await records.arrayBuffer());
    assert.equal(sha256(recordBytes), sha256(await readArtifact((await objApi.bus.artifacts.get(snapshotKey))!)));
    assert.equal(recordBytes.toString("utf8").trimEnd().split("\n").length, 16);

    const e = await evaluationWithPoints(objApi, tenant);
    const stored = await completeWithFiles(objApi, tenant.uuid, e);
    const report = await fetch(`${objApi.url}/v1/files/evaluations/${encodeURIComponent(e.id)}/report.json`, { headers: { authorization: `Bearer ${tenant.key}` } });
    assert.equal(sha256(Buffer.from(await report.arrayBuffer())), stored.report.sha256);
    const deleted = await objApi.gqlOk<any>(deleteMutation("Evaluation"), { id: e.id }, tenant.key);
    assert.equal(deleted.deleteEvaluation.__typename, "DeleteEvaluationSuccess");
    assert.equal(await objApi.bus.artifacts.info(stored.report.key), null, "the report is deleted");
    assert.equal(await objApi.bus.artifacts.info(stored.plot.key), null, "the plot is deleted");
  });
});
