/** @module test/api/generations — generate (several α per request, typed α / vocabulary / sampling errors) and the
 *  generationTokens subscription fed by ingestJobEvent, over a real API and WebSocket. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ingestJobEvent, ingestTokenEvents } from "../../src/api/services/job-events.ts";
import { writeGguf } from "../../src/gpu-runner/engine/model/gguf-writer.ts";
import { DEFAULT_JOB_LIMITS } from "../../src/contracts/index.ts";
import { nextWithin } from "../helpers/graphql.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const DATA = new URL("../../../shared/data/", import.meta.url);
const GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", DATA);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", DATA);

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) {
  __typename
  ... on GenerateSuccess { generation { id jobId prompt alphas beta maxTokens status adapterId baseModelId
      sampling { temperature topK topP seed stop } outputs { alpha text tokenCount finishReason } job { id kind status payload } } }
  ... on InvalidPreferenceVector { message code index }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
  ... on QuotaExceeded { message quota }
  ... on VocabularyMismatch { message baseModelId otherModelId baseVocabSize otherVocabSize }
  ... on LimitExceeded { message limitName max requested field }
} }`;

let api: TestApi;
let artifacts: string;
let tenant: TestTenant;
let scratch: string;
let model: string;
let otherVocabModel: string;
let adapter: string;
let evaluator: string;
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function registerModel(input: Record<string, unknown>): Promise<string> {
  const r = await api.gqlOk<any>(
    `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
    { input },
    tenant.key,
  );
  assert.ok(r.registerModel.model, JSON.stringify(r));
  return r.registerModel.model.id;
}

/** A trained adapter, made the way production makes it: a TRAIN job whose runner reports `completed`. */
async function trainedAdapter(dims: string[], dataset: string, name: string): Promise<string> {
  const r = await api.gqlOk<any>(
    `mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
    { input: { adapterName: name, method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) } },
    tenant.key,
  );
  const jobId = uuidOf(r.startTraining.job.id);
  await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: `adapters/${name}` });
  const adapters = await api.gqlOk<any>(`{ adapters(first: 50) { edges { node { id name } } } }`, {}, tenant.key);
  return adapters.adapters.edges.find((e: any) => e.node.name === name).node.id;
}

async function generate(input: Record<string, unknown>) {
  return (await api.gqlOk<{ generate: Record<string, any> }>(GENERATE, { input: { baseModelId: model, adapterId: adapter, prompt: "Once upon a time", ...input } }, tenant.key))
    .generate;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "generations-test-"));
  artifacts = await mkdtemp(join(tmpdir(), "parm-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts), () => ({ jobLimits: { ...DEFAULT_JOB_LIMITS, maxGenerationTokens: 1000 } })] });
  tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 100 });
  const dims: string[] = [];
  for (const name of ["helpfulness", "harmlessness"]) {
    const d = await api.gqlOk<any>(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name }, tenant.key);
    dims.push(d.createDimension.dimension.id);
  }
  model = await registerModel({ name: "tiny", kind: "BASE", location: GGUF.href });
  evaluator = await registerModel({ name: "tiny-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dims[0] });
  // A GGUF with a 5-token vocabulary (header only): shares no vocabulary with the 512-token GGUF.
  const tokens = { type: "array", elementType: "string", value: ["a", "b", "c", "d", "e"] } as const;
  await writeFile(join(scratch, "five-tokens.gguf"), writeGguf({ version: 3, metadata: [["tokenizer.ggml.tokens", tokens]], tensors: [] }));
  otherVocabModel = await registerModel({ name: "five-tokens", kind: "BASE", location: join(scratch, "five-tokens.gguf") });
  const ds = await api.gqlOk<any>(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } } }`,
    { input: { name: "pku", format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: dims[0] }, { label: "safer", dimensionId: dims[1] }] } },
    tenant.key,
  );
  const dataset = ds.createDataset.dataset.id;
  await api.gqlOk<any>(`mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { __typename } }`, {
    input: { datasetId: dataset, contentBase64: (await readFile(PKU)).toString("base64") },
  }, tenant.key);
  adapter = await trainedAdapter(dims, dataset, "help-harm");
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

describe("generate", () => {
  it("queues one GENERATE job for several α with greedy defaults and publishes it", async () => {
    const alphas = [[0.3, 0.7], [1, 0], [0.1 + 0.2, 0.7]];
    const payload = await generate({ alphas, maxTokens: 16 });
    assert.equal(payload.__typename, "GenerateSuccess", JSON.stringify(payload));
    const g = payload.generation;
    assert.deepEqual(g.alphas, alphas);
    assert.equal(g.status, "QUEUED");
    assert.equal(g.beta, 1);
    assert.deepEqual(g.sampling, { temperature: 0, topK: 0, topP: 1, seed: null, stop: [] });
    assert.equal(g.outputs, null);
    assert.equal(g.adapterId, adapter);
    assert.equal(g.baseModelId, model);
    assert.equal(g.job.id, g.jobId);
    assert.equal(g.job.kind, "GENERATE");
    assert.equal(g.job.payload.arm.dimensions.length, 2);
    assert.equal(g.job.payload.arm.location, "obj://artifacts/adapters/help-harm");
    const deliveries = await api.bus.pullJobs("generate", { max: 10, expiresMs: 1000 });
    const delivery = deliveries.find((d) => d.envelope.jobId === uuidOf(g.jobId));
    assert.ok(delivery);
    assert.equal(delivery.envelope.kind, "generate");
    assert.deepEqual((delivery.envelope.payload as { alphas: number[][] }).alphas, alphas);
    for (const d of deliveries) await d.ack();

    const unguided = await generate({ adapterId: null, alphas: [[]] });
    assert.equal(unguided.__typename, "GenerateSuccess");
    assert.equal(unguided.generation.job.payload.arm, null);
  });

  it("names what is wrong with a preference vector", async () => {
    const cases: [number[][], string, number | null, RegExp][] = [
      [[[1]], "WRONG_LENGTH", null, /1 entries; expected one per dimension \(2\)/],
      [[[1, 0, 0]], "WRONG_LENGTH", null, /3 entries/],
      [[[-0.5, 1.5]], "NEGATIVE", 0, /alpha\[0\] is -0\.5/],
      [[[0.3, 0.3]], "NOT_NORMALIZED", null, /sums to 0\.6/],
      [[[0.5, 0.500002]], "NOT_NORMALIZED", null, /tolerance 0\.000001/],
      [[[0.5, 0.5], [0.2, 0.2]], "NOT_NORMALIZED", null, /input\.alphas\[1\]/],
    ];
    for (const [alphas, code, index, message] of cases) {
      const payload = await generate({ alphas });
      assert.equal(payload.__typename, "InvalidPreferenceVector", JSON.stringify(alphas));
      assert.equal(payload.code, code, JSON.stringify(alphas));
      assert.equal(payload.index, index, JSON.stringify(alphas));
      assert.match(payload.message, message);
    }
    const none = await generate({ alphas: [] });
    assert.equal(none.__typename, "ValidationError");
    assert.equal(none.field, "input.alphas");
    const guidedWithoutAdapter = await generate({ adapterId: null, alphas: [[0.5, 0.5]] });
    assert.equal(guidedWithoutAdapter.__typename, "ValidationError");
  });

  it("returns VocabularyMismatch, NotFoundError and field errors", async () => {
    const mismatch = await generate({ baseModelId: otherVocabModel, alphas: [[0.5, 0.5]] });
    assert.equal(mismatch.__typename, "VocabularyMismatch");
    assert.equal(mismatch.baseModelId, otherVocabModel);
    assert.equal(mismatch.otherModelId, model);
    assert.equal(mismatch.baseVocabSize, 5);
    assert.equal(mismatch.otherVocabSize, 512);

    const missingAdapter = Buffer.from("Adapter:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = await generate({ adapterId: missingAdapter, alphas: [[0.5, 0.5]] });
    assert.equal(notFound.__typename, "NotFoundError");
    assert.equal(notFound.id, missingAdapter);

    const fields: [Record<string, unknown>, string][] = [
      [{ baseModelId: evaluator }, "input.baseModelId"],
      [{ prompt: "" }, "input.prompt"],
      [{ beta: 0 }, "input.beta"],
      [{ maxTokens: 0 }, "input.maxTokens"],
      [{ maxTokens: 512 }, "input.maxTokens"],
      [{ sampling: { topP: 0 } }, "input.sampling.topP"],
      [{ sampling: { temperature: -1 } }, "input.sampling.temperature"],
      [{ sampling: { seed: -3 } }, "input.sampling.seed"],
      [{ adapterId: model }, "input.adapterId"],
    ];
    for (const [over, field] of fields) {
      const payload = await generate({ alphas: [[0.5, 0.5]], ...over });
      assert.equal(payload.__typename, "ValidationError", JSON.stringify(over));
      assert.equal(payload.field, field);
    }
    const tooMuch = await generate({ alphas: Array.from({ length: 3 }, () => [0.5, 0.5]), maxTokens: 400 });
    assert.equal(tooMuch.__typename, "LimitExceeded", JSON.stringify(tooMuch));
    assert.deepEqual([tooMuch.limitName, tooMuch.max, tooMuch.requested, tooMuch.field], ["maxGenerationTokens", 1000, 1200, "input.maxTokens"]);
  });
});

describe("generate quota", () => {
  it("answers QuotaExceeded when the tenant's concurrent jobs are at the limit", async () => {
    const generationsBefore = await api.db.system.generation.count({ where: { tenantId: tenant.uuid } });
    const active = await api.db.system.job.count({ where: { tenantId: tenant.uuid, status: { in: ["QUEUED", "RUNNING"] } } });
    await api.db.system.tenant.update({ where: { id: tenant.uuid }, data: { maxConcurrentJobs: active } });
    try {
      const payload = await generate({ alphas: [[0.5, 0.5]] });
      assert.equal(payload.__typename, "QuotaExceeded");
      assert.equal(payload.quota, "maxConcurrentJobs");
      assert.equal(await api.db.system.generation.count({ where: { tenantId: tenant.uuid } }), generationsBefore, "no row is left behind");
    } finally {
      await api.db.system.tenant.update({ where: { id: tenant.uuid }, data: { maxConcurrentJobs: 100 } });
    }
  });
});

describe("generationTokens", () => {
  it("replays stored tokens, streams live ones, records the outputs and completes", async () => {
    const payload = await generate({ alphas: [[1, 0], [0, 1]], maxTokens: 4 });
    const generationId = payload.generation.id;
    const jobId = uuidOf(payload.generation.jobId);
    const ingest = (seq: number, event: Record<string, unknown>) => ingestJobEvent(api.db, api.server.pubSub, jobId, seq, event);
    await ingest(1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await ingest(2, { type: "token", outputIndex: 0, position: 0, tokenId: 65, text: " Lily" });

    const { iterator } = await api.subscribe<any>(
      `subscription($id: ID!) { generationTokens(generationId: $id) { generationId outputIndex position tokenId text } }`,
      { id: generationId },
      tenant.key,
    );
    const first = await nextWithin(iterator, 5000, "replayed token");
    assert.deepEqual(first.value.data.generationTokens, { generationId, outputIndex: 0, position: 0, tokenId: 65, text: " Lily" });
    await ingest(3, { type: "token", outputIndex: 1, position: 0, tokenId: 66, text: " Tom" });
    await ingest(4, { type: "progress", step: 1, totalSteps: 4, percent: 25, etaSeconds: null, lossPerObjective: [], tokensPerSecond: 10 });
    await ingest(5, {
      type: "completed",
      durationSeconds: 0.2,
      metrics: {},
      outputs: [
        { alpha: [1, 0], text: " Lily", tokenCount: 1, finishReason: "stop" },
        { alpha: [0, 1], text: " Tom", tokenCount: 1, finishReason: "stop" },
      ],
    });
    const second = await nextWithin(iterator, 5000, "live token");
    assert.equal(second.value.data.generationTokens.text, " Tom");
    assert.equal(second.value.data.generationTokens.outputIndex, 1);
    assert.equal((await nextWithin(iterator, 5000, "end")).done, true);

    const stored = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Generation { status outputs { text alpha finishReason } job { status progress } } } }`, { id: generationId }, tenant.key);
    assert.equal(stored.node.status, "SUCCEEDED");
    assert.deepEqual(stored.node.outputs.map((o: any) => o.text), [" Lily", " Tom"]);
    assert.deepEqual(stored.node.job, { status: "SUCCEEDED", progress: 100 });

    const list = await api.gqlOk<any>(`{ generations(first: 50) { edges { node { id status } } } }`, {}, tenant.key);
    assert.ok(list.generations.edges.some((e: any) => e.node.id === generationId && e.node.status === "SUCCEEDED"));
  });

  it("ingestTokenEvents commits a run of tokens at once, streams them in order, and ingests each (jobId, seq) once", async () => {
    const payload = await generate({ alphas: [[1, 0], [0, 1]], maxTokens: 4 });
    const generationId = payload.generation.id;
    const jobId = uuidOf(payload.generation.jobId);
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    const { iterator } = await api.subscribe<any>(`subscription($id: ID!) { generationTokens(generationId: $id) { outputIndex position text } }`, { id: generationId }, tenant.key);
    const token = (seq: number, outputIndex: number, position: number, text: string) => ({
      jobId, seq, event: { type: "token" as const, outputIndex, position, tokenId: 60 + seq, text },
    });
    const batch = [token(2, 0, 0, " A"), token(3, 1, 0, " B"), token(4, 0, 1, " C")];
    const unknownJob = { ...token(5, 0, 2, " D"), jobId: "00000000-0000-4000-8000-000000000000" };
    const results = await ingestTokenEvents(api.db, api.server.pubSub, [...batch, unknownJob]);
    assert.deepEqual(results.map((r) => r.ingested), [true, true, true, false], "the unknown job's event is skipped");
    assert.equal(results[0]!.jobBefore?.id, jobId);
    const streamed = [];
    for (let i = 0; i < 3; i++) streamed.push((await nextWithin(iterator, 5000, `token ${i}`)).value.data.generationTokens);
    assert.deepEqual(streamed, [{ outputIndex: 0, position: 0, text: " A" }, { outputIndex: 1, position: 0, text: " B" }, { outputIndex: 0, position: 1, text: " C" }]);
    const again = await ingestTokenEvents(api.db, api.server.pubSub, [batch[1]!, token(6, 1, 1, " E")]);
    assert.deepEqual(again.map((r) => r.ingested), [false, true], "a repeated (jobId, seq) changes nothing");
    assert.deepEqual((await nextWithin(iterator, 5000, "the new token")).value.data.generationTokens, { outputIndex: 1, position: 1, text: " E" });
    const rows = await api.db.system.jobEvent.findMany({ where: { jobId }, orderBy: { seq: "asc" }, select: { seq: true, type: true } });
    assert.deepEqual(rows.map((r) => [Number(r.seq), r.type]), [[1, "started"], [2, "token"], [3, "token"], [4, "token"], [6, "token"]]);
    const job = await api.db.system.job.findUnique({ where: { id: jobId }, select: { lastEventSeq: true, status: true } });
    assert.deepEqual({ lastEventSeq: Number(job!.lastEventSeq), status: job!.status }, { lastEventSeq: 6, status: "RUNNING" });
    await iterator.return?.();
  });

  it("ends a QUEUED generation's token stream with JOB_CANCELLED when it is cancelled", async () => {
    const payload = await generate({ alphas: [[0.5, 0.5]] });
    const { iterator } = await api.subscribe<any>(`subscription($id: ID!) { generationTokens(generationId: $id) { text } }`, { id: payload.generation.id }, tenant.key);
    // Wait on the stream before cancelling (graphql-ws's iterate() loses a completion that precedes next()).
    const ended = nextWithin(iterator, 5000, "end after cancel").then(() => null, (errors: unknown) => errors);
    await new Promise((r) => setTimeout(r, 200));
    const cancelled = await api.gqlOk<any>(`mutation($id: ID!) { cancelJob(input: { jobId: $id }) { __typename } }`, { id: payload.generation.jobId }, tenant.key);
    assert.equal(cancelled.cancelJob.__typename, "CancelJobSuccess");
    const cancelledCode = (errors: unknown) => (errors as { extensions?: { code?: string; jobId?: string } }[] | null)?.[0]?.extensions;
    assert.deepEqual(cancelledCode(await ended), { code: "JOB_CANCELLED", jobId: payload.generation.jobId, reason: "cancelled before a runner started it" });
    const late = await api.subscribe<any>(`subscription($id: ID!) { generationTokens(generationId: $id) { text } }`, { id: payload.generation.id }, tenant.key);
    const lateEnd = await nextWithin(late.iterator, 5000, "late subscriber to a cancelled generation").then(() => null, (errors: unknown) => errors);
    assert.equal(cancelledCode(lateEnd)?.code, "JOB_CANCELLED");
  });
});
