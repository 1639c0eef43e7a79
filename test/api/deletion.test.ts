/**
 * @module test/api/deletion — deleteDataset, deleteModel, deleteAdapter, deleteGeneration and deleteEvaluation over
 * a real API: refused while in use (ResourceInUse naming the users; nothing changes), a success frees the quota (an
 * upload that did not fit fits afterwards) and deletes the stored files (local stores; and, with NATS, the object
 * store's adapter, checkpoint, upload and snapshot objects), files registered by location stay, and another tenant's
 * ids answer NotFoundError and change nothing.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { connectJetStreamBus, type ArtifactBucket, type JobBus } from "../../src/bus/index.ts";
import { objectStoreModelFileStore, objectStoreSnapshotWriter } from "../../src/api/ingest/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { deleteMutation, domainClient, globalId, STORIES_GGUF, tinyGguf, uuidOf, type DomainClient } from "../helpers/domain-fixtures.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";
import { deleteNamespace, uniqueNamespace } from "../bus/nats-test-server.ts";

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { __typename
  ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`;

let api: TestApi;
let artifacts: string;

async function del(typeName: string, id: string, key: string) {
  return (await api.gqlOk<Record<string, any>>(deleteMutation(typeName), { id }, key))[`delete${typeName}`];
}

/** A tenant with its domain client. */
async function tenantWith(input: Record<string, unknown> = {}): Promise<{ t: TestTenant; c: DomainClient }> {
  const t = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50, ...input });
  return { t, c: domainClient(api, t.key, t.uuid) };
}

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-deletion-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts)] });
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

describe("deleteDataset", () => {
  it("is refused while a queued job reads it or an adapter trained on it; then frees maxDatasetBytes and deletes the snapshot", async () => {
    const { t, c } = await tenantWith({ maxDatasetBytes: 60_000 });
    const other = await tenantWith();
    const dims = await c.dimensions(["helpful", "harmless"]);
    const model = (await c.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
    const dataset = await c.pkuDataset("pku", dims);
    const row = await api.db.system.dataset.findUniqueOrThrow({ where: { id: uuidOf(dataset) } });
    const snapshot = fileURLToPath(row.snapshotKey!);
    assert.ok(existsSync(snapshot));
    const second = await c.createDataset("pku-2", dims);
    assert.equal((await c.upload(second)).__typename, "QuotaExceeded", "the quota holds one copy");

    const queued = await c.startTraining("arm-queued", model, dims, dataset);
    const busy = await del("Dataset", dataset, t.key);
    assert.deepEqual([busy.__typename, busy.usedBy], ["ResourceInUse", [queued]]);
    assert.match(busy.message, /used by 1 active job/);
    await c.cancel(queued);
    const { adapter } = await c.trainedAdapter("arm", model, dims, dataset);
    const trained = await del("Dataset", dataset, t.key);
    assert.deepEqual([trained.__typename, trained.usedBy], ["ResourceInUse", [adapter]]);

    const foreign = await del("Dataset", dataset, other.t.key);
    assert.deepEqual([foreign.__typename, foreign.id], ["NotFoundError", dataset]);
    assert.ok(existsSync(snapshot), "nothing changed");
    assert.equal(await api.db.system.datasetRecord.count({ where: { datasetId: row.id } }), 16);

    assert.equal((await del("Adapter", adapter, t.key)).__typename, "DeleteAdapterSuccess");
    const done = await del("Dataset", dataset, t.key);
    assert.deepEqual(done, { __typename: "DeleteDatasetSuccess", deletedId: dataset, freedBytes: Number(row.byteSize) });
    assert.equal(existsSync(snapshot), false, "the snapshot is deleted");
    assert.equal(await api.db.system.datasetRecord.count({ where: { datasetId: row.id } }), 0);
    assert.equal((await c.upload(second)).__typename, "UploadDatasetSuccess", "the freed quota takes the upload");
    assert.equal((await del("Dataset", dataset, t.key)).__typename, "NotFoundError");
    assert.equal((await del("Dataset", "not-an-id", t.key)).field, "input.id");
  });
});

describe("deleteModel", () => {
  it("is refused while an adapter or an evaluation uses it; then frees maxModelBytes and deletes the uploaded file", async () => {
    const first = tinyGguf(["a", "b", "c"]);
    const { t, c } = await tenantWith({ maxModelBytes: first.length + 10 });
    const other = await tenantWith();
    const [dim] = await c.dimensions(["helpful"]);
    const uploaded = await c.registerModel({ name: "tiny", kind: "EVALUATOR", dimensionId: dim, upload: { fileName: "tiny.gguf", contentBase64: first.toString("base64") } });
    assert.equal(uploaded.__typename, "RegisterModelSuccess", JSON.stringify(uploaded));
    const model = uploaded.model.id;
    const file = fileURLToPath(uploaded.model.location);
    assert.ok(existsSync(file));
    const next = { name: "tiny-2", kind: "BASE", upload: { fileName: "tiny2.gguf", contentBase64: tinyGguf(["x", "y", "z"]).toString("base64") } };
    assert.equal((await c.registerModel(next)).__typename, "QuotaExceeded");

    const adapterRow = await api.db.system.adapter.create({
      data: { tenantId: t.uuid, name: "on-tiny", method: "PARM", baseModelId: uuidOf(model), dimensionIds: [], dimensionNames: [], r1: 1, r2: 1, loraAlpha: 1, targets: [], trainingConfig: {} },
    });
    const byAdapter = await del("Model", model, t.key);
    assert.deepEqual([byAdapter.__typename, byAdapter.usedBy], ["ResourceInUse", [globalId("Adapter", adapterRow.id)]]);
    assert.equal((await del("Adapter", globalId("Adapter", adapterRow.id), t.key)).__typename, "DeleteAdapterSuccess");
    const job = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "EVALUATE", status: "SUCCEEDED", payload: {} } });
    const evaluation = await api.db.system.evaluation.create({
      data: { tenantId: t.uuid, jobId: job.id, adapterId: adapterRow.id, gridStep: 0.5, promptCount: 1, evaluatorIds: [uuidOf(model)], status: "SUCCEEDED" },
    });
    const byEvaluation = await del("Model", model, t.key);
    assert.deepEqual([byEvaluation.__typename, byEvaluation.usedBy], ["ResourceInUse", [globalId("Evaluation", evaluation.id)]]);
    assert.match(byEvaluation.message, /used by 1 evaluation/);

    assert.equal((await del("Model", model, other.t.key)).__typename, "NotFoundError");
    assert.equal((await del("Evaluation", globalId("Evaluation", evaluation.id), other.t.key)).__typename, "NotFoundError");
    assert.ok(existsSync(file), "nothing changed");
    assert.equal((await del("Evaluation", globalId("Evaluation", evaluation.id), t.key)).__typename, "DeleteEvaluationSuccess");
    const done = await del("Model", model, t.key);
    assert.deepEqual(done, { __typename: "DeleteModelSuccess", deletedId: model, freedBytes: first.length });
    assert.equal(existsSync(file), false, "the uploaded file is deleted");
    assert.equal((await c.registerModel(next)).__typename, "RegisterModelSuccess", "the freed quota takes the upload");
  });

  it("deletes only the row of a model registered by location, and keeps an upload's file while another model names it", async () => {
    const { t, c } = await tenantWith();
    const byLocation = (await c.registerModel({ name: "stories", kind: "BASE", location: STORIES_GGUF.href })).model;
    assert.equal(byLocation.storedBytes, null);
    assert.deepEqual(await del("Model", byLocation.id, t.key), { __typename: "DeleteModelSuccess", deletedId: byLocation.id, freedBytes: 0 });
    assert.ok(existsSync(fileURLToPath(STORIES_GGUF)), "a file under the model roots is never deleted");

    const bytes = tinyGguf(["same", "file"]).toString("base64");
    const a = (await c.registerModel({ name: "a", kind: "BASE", upload: { fileName: "m.gguf", contentBase64: bytes } })).model;
    const b = (await c.registerModel({ name: "b", kind: "BASE", upload: { fileName: "m.gguf", contentBase64: bytes } })).model;
    assert.equal(a.location, b.location, "one stored copy");
    assert.equal((await del("Model", a.id, t.key)).__typename, "DeleteModelSuccess");
    assert.ok(existsSync(fileURLToPath(b.location)), "still named by model b");
    assert.equal((await del("Model", b.id, t.key)).__typename, "DeleteModelSuccess");
    assert.equal(existsSync(fileURLToPath(b.location)), false);
    assert.equal(existsSync(join(artifacts, "models", "models", t.uuid)), false, "emptied folders are removed too");
  });
});

describe("deleteAdapter, deleteGeneration, deleteEvaluation", () => {
  it("refuse while the job is active, answer after cancelJob, and take the job and its events along", async () => {
    const { t, c } = await tenantWith();
    const other = await tenantWith();
    const dims = await c.dimensions(["helpful", "harmless"]);
    const model = (await c.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
    const dataset = await c.pkuDataset("pku", dims);
    const { adapter } = await c.trainedAdapter("arm", model, dims, dataset);
    const generated = await api.gqlOk<any>(GENERATE, { input: { baseModelId: model, adapterId: adapter, prompt: "Once", alphas: [[0.5, 0.5]], maxTokens: 4 } }, t.key);
    const { id: generation, jobId } = generated.generate.generation;

    const adapterBusy = await del("Adapter", adapter, t.key);
    assert.deepEqual([adapterBusy.__typename, adapterBusy.usedBy], ["ResourceInUse", [jobId]]);
    const generationBusy = await del("Generation", generation, t.key);
    assert.deepEqual([generationBusy.__typename, generationBusy.usedBy], ["ResourceInUse", [jobId]]);
    assert.match(generationBusy.message, /its job is QUEUED; cancel it \(cancelJob\) first/);
    assert.equal((await del("Generation", generation, other.t.key)).__typename, "NotFoundError");
    assert.equal((await del("Adapter", adapter, other.t.key)).__typename, "NotFoundError");

    await c.cancel(jobId);
    assert.deepEqual(await del("Generation", generation, t.key), { __typename: "DeleteGenerationSuccess", deletedId: generation, freedBytes: 0 });
    assert.equal(await api.db.system.job.count({ where: { id: uuidOf(jobId) } }), 0, "its job is deleted");
    assert.equal(await api.db.system.jobEvent.count({ where: { jobId: uuidOf(jobId) } }), 0, "and its events");
    assert.equal((await del("Adapter", adapter, t.key)).__typename, "DeleteAdapterSuccess");
    assert.equal(await api.db.system.adapter.count({ where: { id: uuidOf(adapter) } }), 0);

    const job = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "EVALUATE", status: "RUNNING", payload: {} } });
    const evaluation = await api.db.system.evaluation.create({
      data: { tenantId: t.uuid, jobId: job.id, adapterId: uuidOf(adapter), gridStep: 0.5, promptCount: 1, evaluatorIds: [], status: "RUNNING" },
    });
    await api.db.system.paretoPoint.create({ data: { tenantId: t.uuid, evaluationId: evaluation.id, index: 0, alpha: [1, 0], rewards: [0, 0] } });
    const evaluationId = globalId("Evaluation", evaluation.id);
    const running = await del("Evaluation", evaluationId, t.key);
    assert.deepEqual([running.__typename, running.usedBy], ["ResourceInUse", [globalId("Job", job.id)]]);
    await ingestJobEvent(api.db, api.server.pubSub, job.id, 1, { type: "failed", code: "INTERNAL", reason: "x", retryable: false });
    assert.equal((await del("Evaluation", evaluationId, t.key)).__typename, "DeleteEvaluationSuccess");
    assert.equal(await api.db.system.paretoPoint.count({ where: { evaluationId: evaluation.id } }), 0);
    assert.equal(await api.db.system.job.count({ where: { id: job.id } }), 0);
  });
});

describe("deletes with the NATS object store", { skip: process.env.NATS_URL ? false : "needs NATS_URL (nats-server)" }, () => {
  let objApi: TestApi;
  let bus: JobBus;
  let store: ArtifactBucket;
  const namespace = uniqueNamespace();
  const exists = async (key: string) => (await store.info(key)) !== null;

  before(async () => {
    bus = await connectJetStreamBus(process.env.NATS_URL!, { namespace });
    store = bus.artifacts;
    const s = store;
    objApi = await startTestApi({ serviceFactories: [() => ({ modelFiles: objectStoreModelFileStore(s), datasetSnapshots: objectStoreSnapshotWriter(s) })] });
  });
  after(async () => {
    await objApi?.stop();
    await bus?.close();
    await deleteNamespace(process.env.NATS_URL!, namespace).catch(() => undefined);
  });

  it("deletes an adapter's objects and checkpoint, an upload's object and a dataset's snapshot object", async () => {
    const t = await objApi.createTenantWithKey();
    const c = domainClient(objApi, t.key, t.uuid);
    const dims = await c.dimensions(["helpful", "harmless"]);
    const model = (await c.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
    const dataset = await c.pkuDataset("pku", dims);
    const job = await c.startTraining("genarm", model, dims, dataset);
    const folder = `adapters/${t.uuid}/${uuidOf(job)}`;
    for (const key of [`${folder}/adapter-0.safetensors`, `${folder}/adapter-1.safetensors`, `${folder}/manifest.json`, `checkpoints/${uuidOf(job)}`]) {
      await store.put(key, new Uint8Array([1, 2, 3]));
    }
    await store.put(`adapters/${t.uuid}/elsewhere/manifest.json`, new Uint8Array([4]));
    await ingestJobEvent(objApi.db, objApi.server.pubSub, uuidOf(job), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: `${folder}/manifest.json` });
    const adapter = globalId("Adapter", (await objApi.db.system.adapter.findFirstOrThrow({ where: { jobId: uuidOf(job) } })).id);
    assert.equal((await objApi.gqlOk<any>(deleteMutation("Adapter"), { id: adapter }, t.key)).deleteAdapter.__typename, "DeleteAdapterSuccess");
    for (const key of [`${folder}/adapter-0.safetensors`, `${folder}/adapter-1.safetensors`, `${folder}/manifest.json`, `checkpoints/${uuidOf(job)}`]) {
      assert.equal(await exists(key), false, `${key} is deleted`);
    }
    assert.ok(await exists(`adapters/${t.uuid}/elsewhere/manifest.json`), "another job's adapter stays");

    const upload = await c.registerModel({ name: "tiny", kind: "BASE", upload: { fileName: "t.gguf", contentBase64: tinyGguf(["q"]).toString("base64") } });
    const uploadKey = upload.model.location.replace(/^obj:\/\/artifacts\//, "");
    assert.ok(await exists(uploadKey));
    assert.equal((await objApi.gqlOk<any>(deleteMutation("Model"), { id: upload.model.id }, t.key)).deleteModel.__typename, "DeleteModelSuccess");
    assert.equal(await exists(uploadKey), false);

    const snapshotKey = (await objApi.db.system.dataset.findUniqueOrThrow({ where: { id: uuidOf(dataset) } })).snapshotKey!.replace(/^obj:\/\/artifacts\//, "");
    assert.ok(await exists(snapshotKey));
    assert.equal((await objApi.gqlOk<any>(deleteMutation("Dataset"), { id: dataset }, t.key)).deleteDataset.__typename, "DeleteDatasetSuccess");
    assert.equal(await exists(snapshotKey), false);
  });
});
