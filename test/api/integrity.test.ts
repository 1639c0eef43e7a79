/**
 * @module test/api/integrity — integrity rules over a real API: adapter names are unique per tenant (a name taken by
 * an adapter or by a queued training job is refused at submit, nothing queued; a job completing under a name taken
 * meanwhile gets a suffixed one); a safetensors (or ONNX) file cannot register as a BASE or ARM_BASE model, by
 * location or upload (ModelFileInvalid UNSUPPORTED_MODEL naming what is missing, nothing stored); a job cancelled
 * after it started says how long it ran, whatever its runner reported.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ServiceFactory } from "../../src/api/context.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { createLocalModelFileStore } from "../../src/api/services/model-store.ts";
import { domainClient, globalId, STORIES_GGUF, uuidOf, type DomainClient } from "../helpers/domain-fixtures.ts";
import { SHARED_DATA_DIR, startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const START = `mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename
  ... on StartTrainingSuccess { job { id } } ... on ValidationError { field message } } }`;
const JOB = `query($id: ID!) { node(id: $id) { ... on Job { status error cancelRequested } } }`;

let api: TestApi;
let scratch: string;
let storeDir: string;
let t: TestTenant;
let c: DomainClient;
let dims: string[];
let model: string;
let dataset: string;

/** A safetensors file (one embedding tensor) with a 4-token vocabulary. */
function safetensors(): Buffer {
  const json = Buffer.from(JSON.stringify({ "model.embed_tokens.weight": { dtype: "F32", shape: [4, 2], data_offsets: [0, 32] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(32)]);
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parm-integrity-"));
  storeDir = join(scratch, "data", "models");
  const factory: ServiceFactory = () => ({ modelFiles: createLocalModelFileStore(storeDir) });
  api = await startTestApi({ serviceFactories: [factory], modelRoots: { roots: [SHARED_DATA_DIR, join(scratch, "roots")], excluded: [join(scratch, "data")] } });
  t = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50 });
  c = domainClient(api, t.key, t.uuid);
  dims = await c.dimensions(["helpful", "harmless"]);
  model = (await c.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
  dataset = await c.pkuDataset("pku", dims);
});
after(async () => {
  await api?.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function start(adapterName: string, key = t.key) {
  const input = { adapterName, method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) };
  return (await api.gqlOk<any>(START, { input }, key)).startTraining;
}

describe("adapter names", () => {
  it("are refused at submit when an adapter or a queued training job holds them; nothing is queued", async () => {
    const first = await start("help-harm");
    assert.equal(first.__typename, "StartTrainingSuccess");
    const jobsBefore = await api.db.system.job.count({ where: { tenantId: t.uuid } });
    const pending = await start("help-harm");
    assert.deepEqual([pending.__typename, pending.field], ["ValidationError", "input.adapterName"]);
    assert.match(pending.message, /queued or running training job .* will create an adapter named "help-harm"/);
    await ingestJobEvent(api.db, api.server.pubSub, uuidOf(first.job.id), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/x" });
    const taken = await start("help-harm");
    assert.deepEqual([taken.__typename, taken.field], ["ValidationError", "input.adapterName"]);
    assert.match(taken.message, /an adapter named "help-harm" already exists/);
    assert.equal(await api.db.system.job.count({ where: { tenantId: t.uuid } }), jobsBefore, "nothing queued");
    const other = await api.createTenantWithKey();
    const otherClient = domainClient(api, other.key, other.uuid);
    const otherDims = await otherClient.dimensions(["a", "b"]);
    const otherModel = (await otherClient.registerModel({ name: "base", kind: "BASE", location: STORIES_GGUF.href })).model.id;
    await otherClient.startTraining("help-harm", otherModel, otherDims, await otherClient.pkuDataset("pku", otherDims));
  });

  it("a job completing under a name taken meanwhile gets `<name> (job <8 hex>)`", async () => {
    const payload = (await api.db.system.job.findUniqueOrThrow({ where: { id: uuidOf((await start("race-a")).job.id) } })).payload as Record<string, unknown>;
    const twin = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "TRAIN", status: "QUEUED", payload: { ...payload, adapterName: "race" } } });
    const winner = await api.db.system.job.create({ data: { tenantId: t.uuid, kind: "TRAIN", status: "QUEUED", payload: { ...payload, adapterName: "race" } } });
    await ingestJobEvent(api.db, api.server.pubSub, winner.id, 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/w" });
    await ingestJobEvent(api.db, api.server.pubSub, twin.id, 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/t" });
    const names = (await api.db.system.adapter.findMany({ where: { jobId: { in: [twin.id, winner.id] } }, select: { name: true, jobId: true } }))
      .map((a) => [a.jobId, a.name]);
    assert.deepEqual(Object.fromEntries(names), { [winner.id]: "race", [twin.id]: `race (job ${twin.id.slice(0, 8)})` });
    assert.equal((await api.db.system.job.findUniqueOrThrow({ where: { id: twin.id } })).status, "SUCCEEDED");
  });
});

describe("safetensors and ONNX base models", () => {
  it("are refused at registration (UNSUPPORTED_MODEL naming what is missing) by location and by upload; nothing is stored", async () => {
    const folder = join(scratch, "roots", "hf");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "model.safetensors"), safetensors());
    const bare = await c.registerModel({ name: "st-base", kind: "BASE", location: join(folder, "model.safetensors") });
    assert.deepEqual([bare.__typename, bare.problem], ["ModelFileInvalid", "UNSUPPORTED_MODEL"]);
    assert.match(bare.message, /cannot be a BASE model: .*config\.json and tokenizer\.json are missing beside it; register it as a GGUF file/);
    await writeFile(join(folder, "config.json"), "{}");
    const half = await c.registerModel({ name: "st-arm", kind: "ARM_BASE", location: join(folder, "model.safetensors") });
    assert.match(half.message, /cannot be an ARM_BASE model: .*tokenizer\.json is missing beside it/);
    await writeFile(join(folder, "tokenizer.json"), "{}");
    const full = await c.registerModel({ name: "st-full", kind: "BASE", location: join(folder, "model.safetensors") });
    assert.match(full.message, /registered by location is one file, which runners read as GGUF/);

    const upload = await c.registerModel({ name: "st-up", kind: "BASE", upload: { fileName: "model.safetensors", contentBase64: safetensors().toString("base64") } });
    assert.deepEqual([upload.__typename, upload.problem, upload.location], ["ModelFileInvalid", "UNSUPPORTED_MODEL", "upload:model.safetensors"]);
    assert.match(upload.message, /an upload is the weights file alone, without config\.json and tokenizer\.json/);
    assert.deepEqual(await readdir(storeDir).catch(() => []), [], "the refused upload is not stored");

    await writeFile(join(folder, "decoder.onnx"), Buffer.from("onnx"));
    const onnx = await c.registerModel({ name: "onnx-base", kind: "BASE", location: join(folder, "decoder.onnx") });
    assert.deepEqual([onnx.problem], ["UNSUPPORTED_MODEL"]);
    assert.equal(await api.db.system.model.count({ where: { tenantId: t.uuid, name: { startsWith: "st-" } } }), 0);

    const evaluator = await c.registerModel({ name: "st-rm", kind: "EVALUATOR", dimensionId: dims[0], location: join(folder, "model.safetensors") });
    assert.equal(evaluator.__typename, "RegisterModelSuccess", "evaluators stay registrable as safetensors");
  });
});

describe("cancellation message", () => {
  it("a job cancelled after 90 s of running says so, whatever its runner reported", async () => {
    const job = (await start("cancel-me")).job.id;
    await ingestJobEvent(api.db, api.server.pubSub, uuidOf(job), 1, { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await api.db.system.job.update({ where: { id: uuidOf(job) }, data: { startedAt: new Date(Date.now() - 90_000) } });
    assert.equal((await c.cancel(job)).job.status, "RUNNING");
    await ingestJobEvent(api.db, api.server.pubSub, uuidOf(job), 2, { type: "failed", code: "CANCELLED", reason: "cancelled before it started", retryable: false });
    const node = (await api.gqlOk<any>(JOB, { id: job }, t.key)).node;
    assert.equal(node.status, "CANCELLED");
    assert.match(node.error, /^CANCELLED: cancelled while running, after 9[01] s$/);

    const queued = (await start("cancel-queued")).job.id;
    await c.cancel(queued);
    assert.match((await api.gqlOk<any>(JOB, { id: queued }, t.key)).node.error, /before a runner started it/);
    assert.equal(globalId("Job", uuidOf(queued)), queued);
  });
});
