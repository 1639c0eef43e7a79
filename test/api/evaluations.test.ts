/** @module test/api/evaluations — startEvaluation (typed errors included), evaluations with their points, and the
 *  evaluationPoints subscription fed by ingestJobEvent, over a real API and WebSocket. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { nextWithin } from "../helpers/graphql.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const DATA = new URL("../../../shared/data/", import.meta.url);
const GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", DATA);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", DATA);

const START = `mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) {
  __typename
  ... on StartEvaluationSuccess { evaluation { id jobId adapterId gridStep split promptCount evaluatorIds referencePoint status
      hypervolume mip points { index } job { kind status payload } } }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
  ... on QuotaExceeded { message quota }
  ... on VocabularyMismatch { message }
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
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts)] });
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
    const deliveries = await api.bus.pullJobs("evaluate", { max: 10, expiresMs: 1000 });
    assert.ok(deliveries.some((d) => d.envelope.jobId === uuidOf(e.jobId)));
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
      [{ datasetId: adapter }, "input.datasetId"],
    ];
    for (const [over, field] of cases) {
      const payload = await start(over);
      assert.equal(payload.__typename, "ValidationError", `${JSON.stringify(over)} → ${JSON.stringify(payload)}`);
      assert.equal(payload.field, field, JSON.stringify(over));
    }
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

  it("marks a failed evaluation FAILED with the runner's reason", async () => {
    const payload = await start();
    const jobId = uuidOf(payload.evaluation.jobId);
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, { type: "failed", code: "MODEL_UNAVAILABLE", reason: "evaluator file missing on the runner", retryable: false });
    const stored = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Evaluation { status job { status error finishedAt } } } }`, { id: payload.evaluation.id }, tenant.key);
    assert.equal(stored.node.status, "FAILED");
    assert.equal(stored.node.job.status, "FAILED");
    assert.equal(stored.node.job.error, "MODEL_UNAVAILABLE: evaluator file missing on the runner");
    assert.ok(stored.node.job.finishedAt);
  });
});
