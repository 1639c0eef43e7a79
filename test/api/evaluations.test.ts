/** @module test/api/evaluations — startEvaluation (typed errors included, evaluators trained on the adapter's
 *  training pairs refused), evaluations with their points, and the evaluationPoints subscription fed by
 *  ingestJobEvent, over a real API and WebSocket. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TenantServiceDeps } from "../../src/api/services/deps.ts";
import { DEFAULT_JOB_LIMITS, type JobLimits } from "../../src/contracts/index.ts";
import { findSharedTrainingPairs } from "../../src/api/services/evaluator-lineage.ts";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { nextWithin } from "../helpers/graphql.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const DATA = new URL("../../../shared/data/", import.meta.url);
const GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", DATA);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", DATA);
/** 101 grid points (k = 2, step 0.01) are allowed, 1001 are not; 11 points × 2 prompts × 128 tokens fit, × 400 tokens do not. */
const LIMITS: JobLimits = { ...DEFAULT_JOB_LIMITS, maxGridPoints: 101, maxEvaluationTokens: 10_000 };

const START = `mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) {
  __typename
  ... on StartEvaluationSuccess { evaluation { id jobId adapterId gridStep split promptCount evaluatorIds referencePoint status
      hypervolume mip points { index } job { kind status payload } } }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
  ... on QuotaExceeded { message quota }
  ... on VocabularyMismatch { message }
  ... on LimitExceeded { message limitName max requested field }
} }`;

let api: TestApi;
let artifacts: string;
let tenant: TestTenant;
let model: string;
let adapter: string;
let dataset: string;
let testPairs: number;
let evaluators: string[];
let dims: string[];
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function registerModel(input: Record<string, unknown>): Promise<string> {
  const r = await api.gqlOk<any>(
    `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
    { input },
    tenant.key,
  );
  return r.registerModel.model.id;
}

async function start(over: Record<string, unknown> = {}) {
  const input = { adapterId: adapter, baseModelId: model, datasetId: dataset, split: "TEST", promptCount: 2, evaluatorIds: evaluators, ...over };
  return (await api.gqlOk<{ startEvaluation: Record<string, any> }>(START, { input }, tenant.key)).startEvaluation;
}

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts), () => ({ jobLimits: LIMITS })] });
  tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 100 });
  dims = [];
  for (const name of ["harmlessness", "helpfulness"]) {
    const d = await api.gqlOk<any>(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name }, tenant.key);
    dims.push(d.createDimension.dimension.id);
  }
  model = await registerModel({ name: "tiny", kind: "BASE", location: GGUF.href });
  evaluators = [
    await registerModel({ name: "harm-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dims[0] }),
    await registerModel({ name: "help-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dims[1] }),
  ];
  const ds = await api.gqlOk<any>(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } } }`,
    { input: { name: "pku", format: "PKU_SAFERLHF", splitRatios: { train: 0.5, validation: 0, test: 0.5 }, labels: [{ label: "safer", dimensionId: dims[0] }, { label: "better", dimensionId: dims[1] }] } },
    tenant.key,
  );
  dataset = ds.createDataset.dataset.id;
  const up = await api.gqlOk<any>(
    `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { splitCounts { test } } } } }`,
    { input: { datasetId: dataset, contentBase64: (await readFile(PKU)).toString("base64") } },
    tenant.key,
  );
  testPairs = up.uploadDataset.dataset.splitCounts.test;
  assert.ok(testPairs >= 2, `test split holds ${testPairs} pairs`);
  const t = await api.gqlOk<any>(
    `mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
    { input: { adapterName: "safe-help", method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) } },
    tenant.key,
  );
  await ingestJobEvent(api.db, api.server.pubSub, uuidOf(t.startTraining.job.id), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/safe-help" });
  const adapters = await api.gqlOk<any>(`{ adapters(first: 5) { edges { node { id } } } }`, {}, tenant.key);
  adapter = adapters.adapters.edges[0].node.id;
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

describe("startEvaluation", () => {
  it("queues an EVALUATE job with its Evaluation row and publishes it", async () => {
    const payload = await start({ gridStep: 0.25, referencePoint: [-1, -1] });
    assert.equal(payload.__typename, "StartEvaluationSuccess", JSON.stringify(payload));
    const e = payload.evaluation;
    assert.equal(e.status, "QUEUED");
    assert.equal(e.gridStep, 0.25);
    assert.equal(e.split, "TEST");
    assert.deepEqual(e.evaluatorIds, evaluators);
    assert.deepEqual(e.referencePoint, [-1, -1]);
    assert.equal(e.adapterId, adapter);
    assert.deepEqual(e.points, []);
    assert.equal(e.job.kind, "EVALUATE");
    assert.deepEqual(e.job.payload.referencePoint, [-1, -1]);
    assert.equal(e.job.payload.prompts.count, 2);
    assert.deepEqual(e.job.payload.adapter.dimensions.map((d: any) => d.name), ["harmlessness", "helpfulness"]);
    assert.deepEqual(e.job.payload.promptTemplate, { kind: "named", name: "HH" }, "the adapter's training template: generation decodes in its context");
    const deliveries = await api.bus.pullJobs("evaluate", { max: 10, expiresMs: 1000 });
    assert.ok(deliveries.some((d) => d.envelope.jobId === uuidOf(e.jobId)));
    for (const d of deliveries) await d.ack();
  });

  it("truncates prompts to what fits the base model's context by default, and accepts an explicit budget", async () => {
    const derived = await start({ gridStep: 0.01, maxTokens: 32 });
    assert.equal(derived.__typename, "StartEvaluationSuccess", JSON.stringify(derived));
    assert.equal(derived.evaluation.job.payload.maxPromptTokens, 512 - 32, "stories260K holds 512 tokens");
    const given = await start({ gridStep: 0.5, maxTokens: 100, maxPromptTokens: 412 });
    assert.equal(given.evaluation.job.payload.maxPromptTokens, 412);
    const deliveries = await api.bus.pullJobs("evaluate", { max: 10, expiresMs: 1000 });
    for (const d of deliveries) await d.ack();
  });

  it("names the field of each invalid input", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ gridStep: 0.3 }, "input.gridStep"],
      [{ gridStep: 0 }, "input.gridStep"],
      [{ promptCount: 0 }, "input.promptCount"],
      [{ promptCount: testPairs + 1 }, "input.promptCount"],
      [{ split: "VALIDATION" }, "input.split"],
      [{ evaluatorIds: [evaluators[0]] }, "input.evaluatorIds"],
      [{ evaluatorIds: [evaluators[1], evaluators[0]] }, "input.evaluatorIds[0]"],
      [{ evaluatorIds: [model, evaluators[1]] }, "input.evaluatorIds[0]"],
      [{ referencePoint: [0] }, "input.referencePoint"],
      [{ maxTokens: 100_000 }, "input.maxTokens"],
      [{ maxTokens: 512, gridStep: 0.5 }, "input.maxTokens"],
      [{ maxTokens: 100, maxPromptTokens: 413 }, "input.maxPromptTokens"],
      [{ maxPromptTokens: 0 }, "input.maxPromptTokens"],
      [{ datasetId: adapter }, "input.datasetId"],
    ];
    for (const [over, field] of cases) {
      const payload = await start(over);
      assert.equal(payload.__typename, "ValidationError", `${JSON.stringify(over)} → ${JSON.stringify(payload)}`);
      assert.equal(payload.field, field, JSON.stringify(over));
    }
    const limitCases: [Record<string, unknown>, string, string, number][] = [
      [{ gridStep: 0.0001 }, "maxGridPoints", "input.gridStep", 10_001],
      [{ gridStep: 0.001 }, "maxGridPoints", "input.gridStep", 1001],
      [{ gridStep: 0.1, maxTokens: 460 }, "maxEvaluationTokens", "input.promptCount", 11 * 2 * 460],
    ];
    const jobsBefore = await api.db.system.job.count({ where: { tenantId: tenant.uuid } });
    for (const [over, limitName, field, requested] of limitCases) {
      const payload = await start(over);
      assert.equal(payload.__typename, "LimitExceeded", `${JSON.stringify(over)} → ${JSON.stringify(payload)}`);
      assert.deepEqual([payload.limitName, payload.field, payload.requested], [limitName, field, requested]);
      assert.equal(payload.max, LIMITS[limitName as keyof JobLimits]);
    }
    assert.equal(await api.db.system.job.count({ where: { tenantId: tenant.uuid } }), jobsBefore, "nothing was queued");
    const missing = Buffer.from("Adapter:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = await start({ adapterId: missing });
    assert.equal(notFound.__typename, "NotFoundError");
    assert.equal(notFound.id, missing);

    const evaluationsBefore = await api.db.system.evaluation.count({ where: { tenantId: tenant.uuid } });
    const active = await api.db.system.job.count({ where: { tenantId: tenant.uuid, status: { in: ["QUEUED", "RUNNING"] } } });
    await api.db.system.tenant.update({ where: { id: tenant.uuid }, data: { maxConcurrentJobs: active } });
    try {
      const quota = await start();
      assert.equal(quota.__typename, "QuotaExceeded");
      assert.equal(quota.quota, "maxConcurrentJobs");
      assert.equal(await api.db.system.evaluation.count({ where: { tenantId: tenant.uuid } }), evaluationsBefore);
    } finally {
      await api.db.system.tenant.update({ where: { id: tenant.uuid }, data: { maxConcurrentJobs: 100 } });
    }
  });
});

describe("evaluationPoints and evaluations", () => {
  it("streams points (stored first), stores the front, HV, MIP and reference point, and completes", async () => {
    const payload = await start({ gridStep: 0.5 });
    const evaluationId = payload.evaluation.id;
    const jobId = uuidOf(payload.evaluation.jobId);
    const ingest = (seq: number, event: Record<string, unknown>) => ingestJobEvent(api.db, api.server.pubSub, jobId, seq, event);
    await ingest(1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await ingest(2, { type: "point", index: 0, alpha: [0, 1], rewards: [0.1, 0.9], promptCount: 2 });

    const { iterator } = await api.subscribe<any>(
      `subscription($id: ID!) { evaluationPoints(evaluationId: $id) { evaluationId index alpha rewards } }`,
      { id: evaluationId },
      tenant.key,
    );
    const first = await nextWithin(iterator, 5000, "replayed point");
    assert.deepEqual(first.value.data.evaluationPoints, { evaluationId, index: 0, alpha: [0, 1], rewards: [0.1, 0.9] });
    const second = nextWithin(iterator, 5000, "live point");
    await ingest(3, { type: "point", index: 1, alpha: [0.5, 0.5], rewards: [0.5, 0.4], promptCount: 2 });
    assert.equal((await second).value.data.evaluationPoints.index, 1);
    const third = nextWithin(iterator, 5000, "live point 2");
    await ingest(4, { type: "point", index: 2, alpha: [1, 0], rewards: [0.8, 0.2], promptCount: 2 });
    assert.equal((await third).value.data.evaluationPoints.index, 2);
    const end = nextWithin(iterator, 5000, "end");
    await ingest(5, {
      type: "completed",
      durationSeconds: 3,
      metrics: {},
      evaluation: { hypervolume: 0.42, referencePoint: [0, 0], mip: 0.55, frontIndices: [0, 2] },
    });
    assert.equal((await end).done, true);

    const stored = await api.gqlOk<any>(
      `query($id: ID!) { node(id: $id) { ... on Evaluation { status hypervolume mip referencePoint report points { index onFront rewards } } } }`,
      { id: evaluationId },
      tenant.key,
    );
    assert.equal(stored.node.status, "SUCCEEDED");
    assert.equal(stored.node.hypervolume, 0.42);
    assert.equal(stored.node.mip, 0.55);
    assert.deepEqual(stored.node.referencePoint, [0, 0]);
    assert.deepEqual(stored.node.points.map((p: any) => [p.index, p.onFront]), [[0, true], [1, false], [2, true]]);
    assert.deepEqual(stored.node.report.frontIndices, [0, 2]);

    const list = await api.gqlOk<any>(`{ evaluations(first: 10) { edges { node { id status points { index } } } } }`, {}, tenant.key);
    const listed = list.evaluations.edges.map((e: any) => e.node).find((n: any) => n.id === evaluationId);
    assert.equal(listed.points.length, 3);

    const late = await api.subscribe<any>(`subscription($id: ID!) { evaluationPoints(evaluationId: $id) { index } }`, { id: evaluationId }, tenant.key);
    const replay: number[] = [];
    for (;;) {
      const next = await nextWithin(late.iterator, 5000, "late replay");
      if (next.done) break;
      replay.push(next.value.data.evaluationPoints.index);
    }
    assert.deepEqual(replay, [0, 1, 2]);
  });

  it("evaluationPoints(afterIndex) and jobEvents(afterSeq) resume a stream after the last item a client saw", async () => {
    const payload = await start();
    const { id: evaluationId, jobId: jobGlobalId } = payload.evaluation;
    const jobId = uuidOf(jobGlobalId);
    const ingest = (seq: number, event: Record<string, unknown>) => ingestJobEvent(api.db, api.server.pubSub, jobId, seq, event);
    await ingest(1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await ingest(2, { type: "point", index: 0, alpha: [0, 1], rewards: [0.1, 0.9], promptCount: 2 });
    await ingest(3, { type: "point", index: 1, alpha: [0.5, 0.5], rewards: [0.5, 0.4], promptCount: 2 });
    const drain = async (iterator: AsyncIterableIterator<any>, pick: (data: any) => number) => {
      const out: number[] = [];
      for (;;) {
        const next = await nextWithin(iterator, 5000, "a resumed item");
        if (next.done) return out;
        out.push(pick(next.value.data));
      }
    };
    const points = await api.subscribe<any>(`subscription($id: ID!, $after: Int) { evaluationPoints(evaluationId: $id, afterIndex: $after) { index } }`, { id: evaluationId, after: 0 }, tenant.key);
    const events = await api.subscribe<any>(`subscription($id: ID!, $after: Float) { jobEvents(jobId: $id, afterSeq: $after) { seq } }`, { id: jobGlobalId, after: 2 }, tenant.key);
    const firstPoint = await nextWithin(points.iterator, 5000, "the first resumed point");
    assert.equal(firstPoint.value.data.evaluationPoints.index, 1, "point 0 was seen: not replayed");
    await ingest(4, { type: "point", index: 2, alpha: [1, 0], rewards: [0.8, 0.2], promptCount: 2 });
    await ingest(5, { type: "completed", durationSeconds: 3, metrics: {}, evaluation: { hypervolume: 0.4, referencePoint: [0, 0], mip: 0.5, frontIndices: [0, 2] } });
    assert.deepEqual(await drain(points.iterator, (d) => d.evaluationPoints.index), [2]);
    assert.deepEqual(await drain(events.iterator, (d) => d.jobEvents.seq), [3, 4, 5], "events after seq 2, replayed then live");
    const all = await api.subscribe<any>(`subscription($id: ID!) { evaluationPoints(evaluationId: $id, afterIndex: -1) { index } }`, { id: evaluationId }, tenant.key);
    assert.deepEqual(await drain(all.iterator, (d) => d.evaluationPoints.index), [0, 1, 2], "afterIndex -1: everything");
    const bad = await api.subscribe<any>(`subscription($id: ID!) { jobEvents(jobId: $id, afterSeq: 1.5) { seq } }`, { id: jobGlobalId }, tenant.key);
    const refused = await nextWithin(bad.iterator, 5000, "refusal").then(
      (r) => r.value?.errors ?? r,
      (errors: unknown) => errors,
    );
    assert.equal((refused as any)[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(refused));
  });

  it("marks a failed evaluation FAILED with the runner's reason, keeps its points and ends its streams with JOB_FAILED", async () => {
    const payload = await start();
    const jobId = uuidOf(payload.evaluation.jobId);
    const ingest = (seq: number, event: Record<string, unknown>) => ingestJobEvent(api.db, api.server.pubSub, jobId, seq, event);
    await ingest(1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await ingest(2, { type: "point", index: 0, alpha: [0, 1], rewards: [0.1, 0.9], promptCount: 2 });
    const query = `subscription($id: ID!) { evaluationPoints(evaluationId: $id) { index } }`;
    const live = await api.subscribe<any>(query, { id: payload.evaluation.id }, tenant.key);
    assert.equal((await nextWithin(live.iterator, 5000, "replayed point")).value.data.evaluationPoints.index, 0);
    const ended = nextWithin(live.iterator, 5000, "the failure").then(
      () => assert.fail("the stream should end with an error"),
      (errors: unknown) => errors,
    );
    await ingest(3, { type: "failed", code: "MODEL_UNAVAILABLE", reason: "evaluator file missing on the runner", retryable: false });
    const assertJobFailed = (errors: unknown) => {
      const [error] = errors as { message: string; extensions?: Record<string, unknown> }[];
      assert.equal(error?.extensions?.code, "JOB_FAILED", JSON.stringify(errors));
      assert.equal(error?.extensions?.jobId, payload.evaluation.jobId);
      assert.equal(error?.extensions?.reason, "MODEL_UNAVAILABLE: evaluator file missing on the runner");
    };
    assertJobFailed(await ended);
    const late = await api.subscribe<any>(query, { id: payload.evaluation.id }, tenant.key);
    assert.equal((await nextWithin(late.iterator, 5000, "late replay")).value.data.evaluationPoints.index, 0, "points already computed are kept");
    assertJobFailed(await nextWithin(late.iterator, 5000, "late failure").then(() => assert.fail("expected JOB_FAILED"), (e: unknown) => e));
    const events = await api.subscribe<any>(`subscription($id: ID!) { jobEvents(jobId: $id) { type } }`, { id: payload.evaluation.jobId }, tenant.key);
    const types: string[] = [];
    const endOfEvents = await (async () => {
      for (;;) {
        try {
          const next = await nextWithin(events.iterator, 5000, "job events");
          if (next.done) return null;
          types.push(next.value.data.jobEvents.type);
        } catch (errors) {
          return errors;
        }
      }
    })();
    assert.deepEqual(types, ["started", "point", "failed"]);
    assertJobFailed(endOfEvents);
    const stored = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Evaluation { status job { status error finishedAt } } } }`, { id: payload.evaluation.id }, tenant.key);
    assert.equal(stored.node.status, "FAILED");
    assert.equal(stored.node.job.status, "FAILED");
    assert.equal(stored.node.job.error, "MODEL_UNAVAILABLE: evaluator file missing on the runner");
    assert.ok(stored.node.job.finishedAt);
  });
});

describe("startEvaluation refuses evaluators trained on the adapter's training pairs", () => {
  // The ARM trains on the TRAIN split of `armData`; `otherData` holds other pairs. Both are PKU files cut from the
  // same source (lines 0–9 and 10–15), with all three splits populated in `armData`. `sourceLines` is that source;
  // `armTrainLines` the 1-based lines of `armData` whose records landed in TRAIN, `armTrainPairs` their distinct
  // pair hashes (both read back from dataset_records).
  let armData: string;
  let otherData: string;
  let arm: string;
  let sourceLines: string[];
  let armTrainLines: number[];
  let armTrainPairs: number;
  const ARM_RATIOS = { train: 0.4, validation: 0.3, test: 0.3 };
  const pairsPhrase = (n: number) => (n === 1 ? "1 pair" : `${n} pairs`);
  const TRAIN_EVALUATOR = `mutation($input: TrainEvaluatorInput!) { trainEvaluator(input: $input) {
    ... on TrainEvaluatorSuccess { job { id } } ... on ValidationError { field message } ... on Error { message } } }`;

  async function createDataset(name: string, lines: string[], splitRatios: Record<string, number>): Promise<{ id: string; splitCounts: Record<string, number> }> {
    const created = await api.gqlOk<any>(
      `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`,
      { input: { name, format: "PKU_SAFERLHF", splitRatios, labels: [{ label: "safer", dimensionId: dims[0] }, { label: "better", dimensionId: dims[1] }] } },
      tenant.key,
    );
    const id = created.createDataset.dataset.id;
    const uploaded = await api.gqlOk<any>(
      `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { splitCounts { train validation test } } } ... on Error { message } } }`,
      { input: { datasetId: id, contentBase64: Buffer.from(lines.join("\n") + "\n").toString("base64") } },
      tenant.key,
    );
    const counts = uploaded.uploadDataset.dataset?.splitCounts;
    assert.ok(counts, JSON.stringify(uploaded));
    return { id, splitCounts: counts };
  }

  /** Queues trainEvaluator and completes its job as a runner would; `legacy` strips trainSplit/heldOutSplit from
   *  the stored payload first, like a job queued before those fields existed. Returns the EVALUATOR model's id. */
  async function trainedEvaluator(
    name: string,
    dimension: 0 | 1,
    datasetId: string,
    splits: { trainSplit?: string; heldOutSplit?: string } = {},
    legacy = false,
  ): Promise<string> {
    const r = await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: name, dimensionId: dims[dimension], baseModelId: model, datasetId, ...splits } }, tenant.key);
    assert.ok(r.trainEvaluator.job, JSON.stringify(r));
    const jobId = uuidOf(r.trainEvaluator.job.id);
    if (legacy) {
      const job = await api.db.system.job.findUniqueOrThrow({ where: { id: jobId } });
      const { trainSplit: _t, heldOutSplit: _h, ...older } = job.payload as Record<string, unknown>;
      await api.db.system.job.update({ where: { id: jobId }, data: { payload: older as object } });
    }
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, {
      type: "completed",
      durationSeconds: 1,
      metrics: {},
      artifactKey: `evaluators/${tenant.uuid}/${jobId}/evaluator.safetensors`,
    });
    const row = await api.db.system.model.findFirstOrThrow({ where: { tenantId: tenant.uuid, jobId }, select: { id: true, kind: true } });
    assert.equal(row.kind, "EVALUATOR");
    return Buffer.from(`Model:${row.id}`).toString("base64");
  }

  const startWith = (evaluatorIds: string[]) => start({ adapterId: arm, datasetId: armData, split: "TEST", promptCount: 1, evaluatorIds });
  const counts = async () => ({
    jobs: await api.db.system.job.count({ where: { tenantId: tenant.uuid } }),
    evaluations: await api.db.system.evaluation.count({ where: { tenantId: tenant.uuid } }),
  });

  before(async () => {
    const lines = (await readFile(PKU, "utf8")).split("\n").filter((l) => l.trim().length > 0);
    assert.ok(lines.length >= 16, `PKU head holds ${lines.length} lines`);
    sourceLines = lines;
    const armDataset = await createDataset("lineage-arm-data", lines.slice(0, 10), ARM_RATIOS);
    for (const split of ["train", "validation", "test"]) assert.ok((armDataset.splitCounts[split] ?? 0) > 0, `lineage-arm-data ${split}: ${JSON.stringify(armDataset.splitCounts)}`);
    armData = armDataset.id;
    const armTrain = await api.db.system.datasetRecord.findMany({ where: { datasetId: uuidOf(armData), split: "TRAIN" }, select: { line: true, pairHash: true }, orderBy: { line: "asc" } });
    armTrainLines = armTrain.map((r) => r.line);
    armTrainPairs = new Set(armTrain.map((r) => r.pairHash)).size;
    assert.ok(armTrainPairs > 0 && armTrainLines.length === armDataset.splitCounts.train, JSON.stringify({ armTrainLines, armTrainPairs }));
    const otherDataset = await createDataset("lineage-other-data", lines.slice(10, 16), { train: 0.8, validation: 0.1, test: 0.1 });
    assert.ok(otherDataset.splitCounts.train! > 0, JSON.stringify(otherDataset.splitCounts));
    otherData = otherDataset.id;
    const t = await api.gqlOk<any>(
      `mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
      { input: { adapterName: "lineage-arm", method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: armData })) } },
      tenant.key,
    );
    assert.ok(t.startTraining.job, JSON.stringify(t));
    await ingestJobEvent(api.db, api.server.pubSub, uuidOf(t.startTraining.job.id), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/lineage-arm" });
    const adapters = await api.gqlOk<any>(`{ adapters(first: 20) { edges { node { id name } } } }`, {}, tenant.key);
    arm = adapters.adapters.edges.map((e: any) => e.node).find((n: any) => n.name === "lineage-arm").id;
  });

  it("refuses an evaluator trained on the TRAIN split of the adapter's dataset, naming the field, and queues nothing", async () => {
    const overlapping = await trainedEvaluator("help-on-arm-train", 1, armData, { trainSplit: "TRAIN", heldOutSplit: "TEST" });
    const before = await counts();
    const refused = await startWith([evaluators[0]!, overlapping]);
    assert.equal(refused.__typename, "ValidationError", JSON.stringify(refused));
    assert.equal(refused.field, "input.evaluatorIds[1]");
    assert.match(refused.message, /"help-on-arm-train"/);
    assert.match(refused.message, /TRAIN split of dataset "lineage-arm-data"/);
    assert.ok(refused.message.includes(`shares ${pairsPhrase(armTrainPairs)} (e.g. line ${armTrainLines[0]} of "lineage-arm-data")`), refused.message);
    assert.match(refused.message, /with the TRAIN split of dataset "lineage-arm-data" that adapter "lineage-arm" trained on/);
    assert.match(refused.message, /trainSplit VALIDATION or TEST, or on another dataset/);
    assert.deepEqual(await counts(), before, "no job and no Evaluation row for a refused evaluation");
  });

  it("refuses an evaluator trained on the same pairs uploaded as another dataset (same split ratios), counting the shared pairs", async () => {
    const copy = await createDataset("lineage-arm-copy", sourceLines.slice(0, 10), ARM_RATIOS);
    assert.equal(copy.splitCounts.train, armTrainLines.length, "equal pairs and ratios put the same pairs in TRAIN");
    const onCopy = await trainedEvaluator("help-on-arm-copy", 1, copy.id, { trainSplit: "TRAIN", heldOutSplit: "TEST" });
    const before = await counts();
    const refused = await startWith([evaluators[0]!, onCopy]);
    assert.equal(refused.__typename, "ValidationError", JSON.stringify(refused));
    assert.equal(refused.field, "input.evaluatorIds[1]");
    assert.match(refused.message, /"help-on-arm-copy" was trained on the TRAIN split of dataset "lineage-arm-copy"/);
    assert.ok(refused.message.includes(`shares ${pairsPhrase(armTrainPairs)} (e.g. line ${armTrainLines[0]} of "lineage-arm-copy")`), refused.message);
    assert.match(refused.message, /TRAIN split of dataset "lineage-arm-data" that adapter "lineage-arm" trained on/);
    assert.deepEqual(await counts(), before, "no job and no Evaluation row for a refused evaluation");

    // The copy's VALIDATION pairs are the adapter dataset's VALIDATION pairs: not trained on by the ARM.
    const onCopyValidation = await trainedEvaluator("harm-on-arm-copy-validation", 0, copy.id, { trainSplit: "VALIDATION", heldOutSplit: "TEST" });
    const ok = await startWith([onCopyValidation, evaluators[1]!]);
    assert.equal(ok.__typename, "StartEvaluationSuccess", JSON.stringify(ok));
  });

  it("refuses an evaluator whose split holds the adapter's TRAIN pairs under another split name (other ratios)", async () => {
    const allValidation = await createDataset("lineage-arm-all-validation", sourceLines.slice(0, 10), { train: 0, validation: 1, test: 0 });
    assert.equal(allValidation.splitCounts.validation, 10);
    const onIt = await trainedEvaluator("harm-on-all-validation", 0, allValidation.id, { trainSplit: "VALIDATION", heldOutSplit: "TEST" });
    const before = await counts();
    const refused = await startWith([onIt, evaluators[1]!]);
    assert.equal(refused.__typename, "ValidationError", JSON.stringify(refused));
    assert.equal(refused.field, "input.evaluatorIds[0]");
    assert.match(refused.message, /VALIDATION split of dataset "lineage-arm-all-validation"/);
    assert.ok(refused.message.includes(`shares ${pairsPhrase(armTrainPairs)}`), refused.message);
    assert.deepEqual(await counts(), before);
  });

  it("refuses an evaluator trained on a dataset that shares only part of its pairs with the adapter's TRAIN split", async () => {
    // Six pairs the ARM never saw, then one of its TRAIN pairs (line 7 of the new file); everything lands in TRAIN.
    const sharedLine = armTrainLines[armTrainLines.length - 1]!;
    const partial = await createDataset("lineage-partial", [...sourceLines.slice(10, 16), sourceLines[sharedLine - 1]!], { train: 1, validation: 0, test: 0 });
    assert.equal(partial.splitCounts.train, 7);
    const onPartial = await trainedEvaluator("help-on-partial", 1, partial.id, { trainSplit: "TRAIN", heldOutSplit: "VALIDATION" });
    const before = await counts();
    const refused = await startWith([evaluators[0]!, onPartial]);
    assert.equal(refused.__typename, "ValidationError", JSON.stringify(refused));
    assert.equal(refused.field, "input.evaluatorIds[1]");
    assert.match(refused.message, /"help-on-partial" was trained on the TRAIN split of dataset "lineage-partial", which shares 1 pair \(e\.g\. line 7 of "lineage-partial"\)/);
    assert.match(refused.message, /TRAIN split of dataset "lineage-arm-data" that adapter "lineage-arm" trained on/);
    assert.deepEqual(await counts(), before);
  });

  it("counts shared pairs in one tenant-scoped query: another tenant's client sees none of them (RLS)", async () => {
    const depsOf = (tenantId: string) => ({ tenantId, db: api.db.forTenant(tenantId) }) as unknown as TenantServiceDeps;
    const armIds = new Set([uuidOf(armData)]);
    const own = await findSharedTrainingPairs(depsOf(tenant.uuid), { datasetId: uuidOf(armData), trainSplit: "TRAIN" }, armIds);
    assert.deepEqual(own, { sharedPairs: armTrainPairs, exampleLine: armTrainLines[0], evaluatorDatasetName: "lineage-arm-data", adapterDatasetNames: ["lineage-arm-data"] });
    const disjoint = await findSharedTrainingPairs(depsOf(tenant.uuid), { datasetId: uuidOf(otherData), trainSplit: "TRAIN" }, armIds);
    assert.equal(disjoint.sharedPairs, 0);
    assert.equal(disjoint.exampleLine, null);
    const stranger = await api.createTenantWithKey();
    const foreign = await findSharedTrainingPairs(depsOf(stranger.uuid), { datasetId: uuidOf(armData), trainSplit: "TRAIN" }, armIds);
    assert.deepEqual(foreign, { sharedPairs: 0, exampleLine: null, evaluatorDatasetName: null, adapterDatasetNames: [] });
  });

  it("refuses a legacy evaluator whose job payload has no trainSplit (trained on TRAIN)", async () => {
    const legacy = await trainedEvaluator("harm-legacy", 0, armData, {}, true);
    const stored = await api.db.system.model.findFirstOrThrow({ where: { tenantId: tenant.uuid, name: "harm-legacy" }, select: { config: true } });
    assert.equal((stored.config as { trainSplit: unknown }).trainSplit, null);
    const before = await counts();
    const refused = await startWith([legacy, evaluators[1]!]);
    assert.equal(refused.__typename, "ValidationError", JSON.stringify(refused));
    assert.equal(refused.field, "input.evaluatorIds[0]");
    assert.match(refused.message, /"harm-legacy" was trained on the TRAIN split .*predates trainSplit/);
    assert.deepEqual(await counts(), before);
  });

  it("allows evaluators trained on VALIDATION of the adapter's dataset, on another dataset, or uploaded", async () => {
    const onValidation = await trainedEvaluator("harm-on-validation", 0, armData, { trainSplit: "VALIDATION", heldOutSplit: "TEST" });
    const onOtherData = await trainedEvaluator("help-on-other-train", 1, otherData, { trainSplit: "TRAIN", heldOutSplit: "VALIDATION" });
    const cases: [string, string[]][] = [
      ["VALIDATION split of the adapter's dataset + uploaded", [onValidation, evaluators[1]!]],
      ["TRAIN split of another dataset + uploaded", [evaluators[0]!, onOtherData]],
      ["both trained, disjoint", [onValidation, onOtherData]],
    ];
    for (const [label, evaluatorIds] of cases) {
      const before = await counts();
      const ok = await startWith(evaluatorIds);
      assert.equal(ok.__typename, "StartEvaluationSuccess", `${label}: ${JSON.stringify(ok)}`);
      assert.deepEqual(ok.evaluation.evaluatorIds, evaluatorIds, label);
      assert.deepEqual(await counts(), { jobs: before.jobs + 1, evaluations: before.evaluations + 1 }, label);
    }
  });
});
