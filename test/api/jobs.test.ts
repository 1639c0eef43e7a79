/** @module test/api/jobs — startTraining, trainEvaluator, cancelJob, the jobs query, the JetStream message of a
 *  new job, the concurrent-job quota, ingestJobEvent and the jobEvents subscription over a real WebSocket. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_JOB_LIMITS, jobSubject, type JobEnvelope, type JobLimits } from "../../src/contracts/index.ts";
import { silentLogger } from "../../src/api/server/index.ts";
import { ingestJobEvent, startJobEventIngest } from "../../src/api/services/job-events.ts";
import { enqueueJob } from "../../src/api/services/jobs.ts";
import { nextWithin } from "../helpers/graphql.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { CHATML_TEMPLATE, writeGgufWithStrings } from "../fixtures/chat-templates.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const DATA = new URL("../../../shared/data/", import.meta.url);
const GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", DATA);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", DATA);
/** Small enough that pku16 (16 pairs) × 100 epochs is over it and × 2 epochs is not. */
const LIMITS: JobLimits = { ...DEFAULT_JOB_LIMITS, maxTrainingPairPasses: 1000 };

const START = `mutation($input: StartTrainingInput!) { startTraining(input: $input) {
  __typename
  ... on StartTrainingSuccess { job { id kind status payload progress cancelRequested } }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
  ... on QuotaExceeded { message quota limit retryAfter }
  ... on LimitExceeded { message limitName max requested field }
} }`;
const TRAIN_EVALUATOR = `mutation($input: TrainEvaluatorInput!) { trainEvaluator(input: $input) {
  __typename
  ... on TrainEvaluatorSuccess { job { id kind status payload } }
  ... on ValidationError { message field }
  ... on NotFoundError { message id }
  ... on QuotaExceeded { message quota }
  ... on LimitExceeded { message limitName max requested field }
} }`;
const CANCEL = `mutation($id: ID!) { cancelJob(input: { jobId: $id }) {
  __typename
  ... on CancelJobSuccess { job { id status cancelRequested finishedAt } }
  ... on JobNotCancellable { message jobId status }
  ... on NotFoundError { message id }
} }`;

interface World {
  tenant: TestTenant;
  helpful: string;
  harmless: string;
  model: string;
  pku: string;
  empty: string;
}

let api: TestApi;
let artifacts: string;
let w: World;

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function world(key: string): Promise<Omit<World, "tenant">> {
  const dims: string[] = [];
  for (const name of ["helpfulness", "harmlessness"]) {
    const d = await api.gqlOk<any>(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name }, key);
    dims.push(d.createDimension.dimension.id);
  }
  const m = await api.gqlOk<any>(
    `mutation($l: String!) { registerModel(input: { name: "tiny", kind: ARM_BASE, location: $l }) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
    { l: GGUF.href },
    key,
  );
  const create = async (name: string) =>
    (
      await api.gqlOk<any>(
        `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } } }`,
        { input: { name, format: "PKU_SAFERLHF", labels: [{ label: "better", dimensionId: dims[0] }, { label: "safer", dimensionId: dims[1] }] } },
        key,
      )
    ).createDataset.dataset.id as string;
  const pku = await create("pku");
  const up = await api.gqlOk<any>(
    `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { __typename } }`,
    { input: { datasetId: pku, contentBase64: (await readFile(PKU)).toString("base64") } },
    key,
  );
  assert.equal(up.uploadDataset.__typename, "UploadDatasetSuccess");
  return { helpful: dims[0]!, harmless: dims[1]!, model: m.registerModel.model.id, pku, empty: await create("empty") };
}

/** Adapter names are unique per tenant, also against queued training jobs: each input gets its own. */
let adapterCounter = 0;

function trainingInput(over: Record<string, unknown> = {}) {
  return {
    adapterName: `parm-help-harm-${++adapterCounter}`,
    method: "PARM",
    baseModelId: w.model,
    dimensions: [
      { dimensionId: w.harmless, datasetId: w.pku },
      { dimensionId: w.helpful, datasetId: w.pku, betaR: 0.05 },
    ],
    learningRate: 5e-4,
    epochs: 2,
    batchSize: 4,
    dirichletP: 0.5,
    seed: 7,
    ...over,
  };
}

async function start(input: Record<string, unknown>, key = w.tenant.key) {
  return (await api.gqlOk<{ startTraining: Record<string, any> }>(START, { input }, key)).startTraining;
}

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts), () => ({ jobLimits: LIMITS })] });
  const tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50 });
  w = { tenant, ...(await world(tenant.key)) };
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

describe("startTraining", () => {
  it("creates a QUEUED TRAIN job and publishes its envelope on jobs.train.<tenant> with the job id", async () => {
    const payload = await start(trainingInput());
    assert.equal(payload.__typename, "StartTrainingSuccess", JSON.stringify(payload));
    const job = payload.job;
    assert.equal(job.kind, "TRAIN");
    assert.equal(job.status, "QUEUED");
    assert.equal(job.progress, 0);
    // α order = tenant dimension positions (helpfulness was created first), whatever the input order.
    assert.deepEqual(job.payload.dimensions.map((d: any) => d.name), ["helpfulness", "harmlessness"]);
    assert.deepEqual(job.payload.dimensions.map((d: any) => d.betaR), [0.05, 0.01]);
    assert.equal(job.payload.datasets.length, 1);
    assert.deepEqual(job.payload.datasets[0].dimensionMap, { better: uuidOf(w.helpful), safer: uuidOf(w.harmless) });
    assert.equal(job.payload.baseModel.id, uuidOf(w.model));
    assert.deepEqual(job.payload.targets, ["q_proj", "k_proj", "v_proj"]);
    const snapshot = job.payload.datasets[0].snapshot;
    assert.equal(snapshot.recordCount, 16);
    assert.ok(snapshot.location.startsWith("file://"), snapshot.location);
    assert.equal((await readFile(new URL(snapshot.location))).toString("utf8").trimEnd().split("\n").length, 16);

    const deliveries = await api.bus.pullJobs("train", { max: 5, expiresMs: 1000 });
    const delivery = deliveries.find((d) => d.envelope.jobId === uuidOf(job.id));
    assert.ok(delivery, "the job message is on the stream");
    assert.ok(delivery.subject.endsWith(jobSubject("train", w.tenant.uuid)), delivery.subject);
    assert.equal(delivery.envelope.kind, "train");
    assert.equal(delivery.envelope.tenantId, w.tenant.uuid);
    assert.deepEqual(delivery.envelope.payload, job.payload);
    // Message id = job id: publishing the same job again is a duplicate.
    const again = await api.bus.publishJob(delivery.envelope);
    assert.equal(again.duplicate, true);
    for (const d of deliveries) await d.ack();
  });

  it("returns a typed error naming the problem", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ r1: 0 }, "ValidationError", "input.r1"],
      [{ learningRate: -1 }, "ValidationError", "input.learningRate"],
      [{ dirichletP: 0 }, "ValidationError", "input.dirichletP"],
      [{ loraDropout: 1 }, "ValidationError", "input.loraDropout"],
      [{ loraDropout: -0.1 }, "ValidationError", "input.loraDropout"],
      [{ maxPromptLength: 400, maxLength: 300 }, "ValidationError", "input.maxPromptLength"],
      [{ maxLength: 1024 }, "ValidationError", "input.maxLength"],
      [{ targets: ["q_proj", "qkv_proj"] }, "ValidationError", "input.targets[1]"],
      [{ maxPairs: 0 }, "ValidationError", "input.maxPairs"],
      [{ maxSteps: -1 }, "ValidationError", "input.maxSteps"],
      [{ epochs: 100 }, "LimitExceeded", "input.epochs"],
      [{ adapterName: "  " }, "ValidationError", "input.adapterName"],
      [{ dimensions: [] }, "ValidationError", "input.dimensions"],
      [{ dimensions: [{ dimensionId: w.helpful, datasetId: w.pku }, { dimensionId: w.helpful, datasetId: w.pku }] }, "ValidationError", "input.dimensions[1].dimensionId"],
      [{ dimensions: [{ dimensionId: w.helpful, datasetId: w.empty }] }, "ValidationError", "input.dimensions[0].datasetId"],
      [{ dimensions: [{ dimensionId: w.helpful, datasetId: w.pku, betaR: 0 }] }, "ValidationError", "input.dimensions[0].betaR"],
      [{ baseModelId: w.pku }, "ValidationError", "input.baseModelId"],
    ];
    for (const [over, type, field] of cases) {
      const payload = await start(trainingInput(over));
      assert.equal(payload.__typename, type, `${JSON.stringify(over)} → ${JSON.stringify(payload)}`);
      assert.equal(payload.field, field, JSON.stringify(over));
    }
    const missingModel = Buffer.from("Model:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = await start(trainingInput({ baseModelId: missingModel }));
    assert.equal(notFound.__typename, "NotFoundError");
    assert.equal(notFound.id, missingModel);
    const missingDimension = Buffer.from("PreferenceDimension:00000000-0000-4000-8000-000000000000").toString("base64");
    const noDim = await start(trainingInput({ dimensions: [{ dimensionId: missingDimension, datasetId: w.pku }] }));
    assert.equal(noDim.__typename, "NotFoundError");
  });

  it("derives sequence lengths from the base model's context and bounds the work by maxPairs / maxSteps", async () => {
    const derived = await start(trainingInput());
    assert.equal(derived.__typename, "StartTrainingSuccess", JSON.stringify(derived));
    assert.deepEqual([derived.job.payload.maxLength, derived.job.payload.maxPromptLength], [512, 256], "stories260K holds 512 tokens");
    assert.deepEqual([derived.job.payload.maxPairs, derived.job.payload.maxSteps], [null, null]);
    assert.equal(derived.job.payload.loraDropout, 0.05, "adapter dropout defaults to the reference's 0.05");
    assert.deepEqual([derived.job.payload.r1, derived.job.payload.r2, derived.job.payload.loraAlpha], [4, 4, 8], "PARM's reference ranks and alpha");
    const genarm = await start(trainingInput({ method: "GENARM" }));
    assert.deepEqual([genarm.job.payload.r1, genarm.job.payload.loraAlpha], [8, 16], "GenARM's reference rank 8 and alpha 16 (scale 2)");
    const schedule = (p: Record<string, unknown>) => [p.lr, p.epochs, p.batchSize, p.gradAccum, p.warmupSteps, p.weightDecay, p.dirichletP];
    const parmDefaults = await start({ ...trainingInput(), epochs: undefined, learningRate: undefined, batchSize: undefined, dirichletP: undefined });
    assert.deepEqual(schedule(parmDefaults.job.payload), [5e-4, 2, 4, 8, 20, 0.05, 0.5], "PARM's reference schedule");
    assert.equal((await start({ ...trainingInput({ method: "GENARM" }), epochs: undefined })).job.payload.epochs, 1, "GenARM trains one epoch");
    const noDropout = await start(trainingInput({ loraDropout: 0 }));
    assert.equal(noDropout.job.payload.loraDropout, 0);
    assert.equal(derived.job.payload.alphaPer, "STEP", "one α per optimizer step, as the reference");
    assert.equal((await start(trainingInput({ alphaPer: "MICRO_BATCH" }))).job.payload.alphaPer, "MICRO_BATCH");
    assert.equal(derived.job.payload.truncation, "TRL", "pairs tokenized and cut as TRL's DPOTrainer, as the reference");
    assert.equal((await start(trainingInput({ truncation: "PREFIX_SHARED" }))).job.payload.truncation, "PREFIX_SHARED");
    const tooMuch = await start(trainingInput({ epochs: 100 }));
    assert.equal(tooMuch.__typename, "LimitExceeded");
    assert.equal(tooMuch.limitName, "maxTrainingPairPasses");
    assert.equal(tooMuch.max, 1000);
    assert.ok(tooMuch.requested > 1000, JSON.stringify(tooMuch));
    assert.match(tooMuch.message, /PARM_MAX_TRAINING_PAIR_PASSES/);
    const capped = await start(trainingInput({ epochs: 100, maxPairs: 5 }));
    assert.equal(capped.__typename, "StartTrainingSuccess", JSON.stringify(capped));
    assert.equal(capped.job.payload.maxPairs, 5);
    const stepped = await start(trainingInput({ epochs: 100, maxSteps: 10 }));
    assert.equal(stepped.__typename, "StartTrainingSuccess", JSON.stringify(stepped));
    assert.equal(stepped.job.payload.maxSteps, 10);
    const deliveries = await api.bus.pullJobs("train", { max: 10, expiresMs: 1000 });
    for (const d of deliveries) await d.ack();
    const queued = (await api.db.system.job.findMany({ where: { tenantId: w.tenant.uuid }, select: { payload: true } })).map((j) => j.payload as { epochs: number; maxPairs: number | null; maxSteps: number | null });
    const hundred = queued.filter((p) => p.epochs === 100).map((p) => JSON.stringify([p.maxPairs, p.maxSteps])).sort();
    assert.deepEqual(hundred, ["[5,null]", "[null,10]"], "only the capped 100-epoch requests were queued");
  });

  it("carries the base model's prompt template for the runner: its own chat template, else the named one, else HH", async () => {
    const register = async (input: Record<string, unknown>) => {
      const r = await api.gqlOk<any>(
        `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
        { input: { kind: "ARM_BASE", ...input } },
        w.tenant.key,
      );
      assert.ok(r.registerModel.model, JSON.stringify(r));
      return r.registerModel.model.id as string;
    };
    const dir = await mkdtemp(join(tmpdir(), "parm-chat-model-"));
    try {
      const chatPath = join(dir, "chatml.gguf");
      await writeGgufWithStrings(GGUF, chatPath, { "tokenizer.chat_template": CHATML_TEMPLATE });
      const cases: [string, unknown][] = [
        [w.model, { kind: "named", name: "HH" }],
        [await register({ name: "tiny-pku", location: GGUF.href, promptTemplate: "PKU" }), { kind: "named", name: "PKU" }],
        [await register({ name: "tiny-chatml", location: chatPath }), { kind: "jinja", template: CHATML_TEMPLATE, bosToken: "<s>", eosToken: "</s>" }],
      ];
      for (const [baseModelId, expected] of cases) {
        const started = await start(trainingInput({ baseModelId }));
        assert.equal(started.__typename, "StartTrainingSuccess", JSON.stringify(started));
        assert.deepEqual(started.job.payload.promptTemplate, expected);
      }
      for (const d of await api.bus.pullJobs("train", { max: 10, expiresMs: 1000 })) {
        assert.ok(d.envelope.kind === "train" && d.envelope.payload.promptTemplate !== null, "the published payload carries it");
        await d.ack();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applies the tenant's own job limits set by the platform admin, bounded by the contract", async () => {
    const own = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50, jobLimits: { maxTrainingPairPasses: 20 } });
    const saved = w;
    w = { tenant: own, ...(await world(own.key)) };
    try {
      const refused = await start(trainingInput({ adapterName: "own-limit" }));
      assert.equal(refused.__typename, "LimitExceeded", JSON.stringify(refused));
      assert.deepEqual([refused.limitName, refused.max], ["maxTrainingPairPasses", 20]);
      assert.match(refused.message, /this tenant's own limit/);
      const tenantQuery = `query($id: ID!) { node(id: $id) { ... on Tenant { jobLimits { maxGridPoints maxTrainingPairPasses } } } }`;
      const seen = await api.gqlOk<any>(tenantQuery, { id: own.id }, own.key);
      assert.deepEqual(seen.node.jobLimits, { maxGridPoints: LIMITS.maxGridPoints, maxTrainingPairPasses: 20 }, "the server's limits with the tenant's own in place");
      const UPDATE = `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { __typename ... on ValidationError { field } ... on UpdateTenantSuccess { tenant { jobLimits { maxTrainingPairPasses maxGridPoints } } } } }`;
      const outOfBounds = await api.gqlOk<any>(UPDATE, { input: { id: own.id, jobLimits: { maxGridPoints: 0 } } }, api.adminKey);
      assert.deepEqual(outOfBounds.updateTenant, { __typename: "ValidationError", field: "input.jobLimits.maxGridPoints" });
      const raised = await api.gqlOk<any>(UPDATE, { input: { id: own.id, jobLimits: { maxTrainingPairPasses: 100_000 } } }, api.adminKey);
      assert.deepEqual(raised.updateTenant.tenant.jobLimits, { maxTrainingPairPasses: 100_000, maxGridPoints: LIMITS.maxGridPoints });
      const accepted = await start(trainingInput({ adapterName: "own-limit" }));
      assert.equal(accepted.__typename, "StartTrainingSuccess", JSON.stringify(accepted));
      const forbidden = await api.gql<any>(UPDATE, { input: { id: own.id, jobLimits: { maxTrainingPairPasses: 1 } } }, own.key);
      assert.equal(forbidden.errors?.[0]?.extensions?.code, "FORBIDDEN", "only the platform admin sets them");
      const deliveries = await api.bus.pullJobs("train", { max: 10, expiresMs: 1000 });
      for (const d of deliveries) await d.ack();
    } finally {
      w = saved;
    }
  });

  it("refuses a dataset that has no label for the dimension", async () => {
    const d = await api.gqlOk<any>(`mutation { createDimension(input: { name: "humor" }) { ... on CreateDimensionSuccess { dimension { id } } } }`, {}, w.tenant.key);
    const payload = await start(trainingInput({ dimensions: [{ dimensionId: d.createDimension.dimension.id, datasetId: w.pku }] }));
    assert.equal(payload.__typename, "ValidationError");
    assert.match(payload.message, /no label mapped to dimension humor/);
  });
});

describe("trainEvaluator", () => {
  it("queues a TRAIN_EVALUATOR job with the label of the dimension, and names bad fields", async () => {
    const ok = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "safe-rm", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku } }, w.tenant.key)).trainEvaluator;
    assert.equal(ok.__typename, "TrainEvaluatorSuccess", JSON.stringify(ok));
    assert.equal(ok.job.kind, "TRAIN_EVALUATOR");
    assert.equal(ok.job.payload.labelName, "safer");
    assert.deepEqual([ok.job.payload.pooling, ok.job.payload.trainSplit, ok.job.payload.heldOutSplit], ["last", "VALIDATION", "TEST"], "defaults: disjoint from the ARM's TRAIN split");
    const deliveries = await api.bus.pullJobs("train-evaluator", { max: 5, expiresMs: 1000 });
    assert.ok(deliveries.some((d) => d.envelope.jobId === uuidOf(ok.job.id)));
    for (const d of deliveries) await d.ack();

    const empty = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm2", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.empty } }, w.tenant.key)).trainEvaluator;
    assert.equal(empty.__typename, "ValidationError");
    assert.equal(empty.field, "input.datasetId");
    const taken = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "tiny", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku } }, w.tenant.key)).trainEvaluator;
    assert.equal(taken.__typename, "ValidationError");
    assert.equal(taken.field, "input.evaluatorName");
    const badEpochs = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm3", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku, epochs: 0 } }, w.tenant.key)).trainEvaluator;
    assert.equal(badEpochs.field, "input.epochs");
    assert.equal(ok.job.payload.maxLength, 512, "maxLength defaults to what the base model holds");
    const tooLong = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm6", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku, maxLength: 1024 } }, w.tenant.key)).trainEvaluator;
    assert.equal(tooLong.field, "input.maxLength");
    assert.match(tooLong.message, /context length of model tiny \(512 tokens\)/);
    const tooMuch = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm7", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku, epochs: 10_000 } }, w.tenant.key)).trainEvaluator;
    assert.equal(tooMuch.__typename, "LimitExceeded", JSON.stringify(tooMuch));
    assert.equal(tooMuch.limitName, "maxTrainingPairPasses");
    const missingDataset = Buffer.from("Dataset:00000000-0000-4000-8000-000000000000").toString("base64");
    const notFound = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm4", dimensionId: w.harmless, baseModelId: w.model, datasetId: missingDataset } }, w.tenant.key)).trainEvaluator;
    assert.equal(notFound.__typename, "NotFoundError");
    assert.equal(notFound.id, missingDataset);

    const active = await api.db.system.job.count({ where: { tenantId: w.tenant.uuid, status: { in: ["QUEUED", "RUNNING"] } } });
    await api.db.system.tenant.update({ where: { id: w.tenant.uuid }, data: { maxConcurrentJobs: active } });
    try {
      const quota = (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: { evaluatorName: "rm5", dimensionId: w.harmless, baseModelId: w.model, datasetId: w.pku } }, w.tenant.key)).trainEvaluator;
      assert.equal(quota.__typename, "QuotaExceeded");
      assert.equal(quota.quota, "maxConcurrentJobs");
    } finally {
      await api.db.system.tenant.update({ where: { id: w.tenant.uuid }, data: { maxConcurrentJobs: 50 } });
    }
  });
});

describe("trainEvaluator pooling and splits", () => {
  // A tenant of its own: the jobs query test counts the main tenant's queued and succeeded jobs.
  let t: World;
  before(async () => {
    const tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 50 });
    t = { tenant, ...(await world(tenant.key)) };
  });
  const input = (over: Record<string, unknown>) => ({ evaluatorName: "pooled-rm", dimensionId: t.harmless, baseModelId: t.model, datasetId: t.pku, ...over });
  const mutate = async (over: Record<string, unknown>) => (await api.gqlOk<any>(TRAIN_EVALUATOR, { input: input(over) }, t.tenant.key)).trainEvaluator;

  it("carries pooling and splits into the published payload and the EVALUATOR model's config", async () => {
    const ok = await mutate({ pooling: "MEAN", trainSplit: "VALIDATION", heldOutSplit: "TRAIN" });
    assert.equal(ok.__typename, "TrainEvaluatorSuccess", JSON.stringify(ok));
    assert.deepEqual([ok.job.payload.pooling, ok.job.payload.trainSplit, ok.job.payload.heldOutSplit], ["mean", "VALIDATION", "TRAIN"]);
    const jobId = uuidOf(ok.job.id);
    const deliveries = await api.bus.pullJobs("train-evaluator", { max: 10, expiresMs: 1000 });
    const mine = deliveries.find((d) => d.envelope.jobId === jobId);
    for (const d of deliveries) await d.ack();
    assert.ok(mine, "published");
    assert.equal(mine.envelope.kind, "train-evaluator");
    const published = mine.envelope.payload as { pooling: string; trainSplit: string; heldOutSplit: string };
    assert.deepEqual([published.pooling, published.trainSplit, published.heldOutSplit], ["mean", "VALIDATION", "TRAIN"]);

    await ingestJobEvent(api.db, api.server.pubSub, jobId, 1, { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 });
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 2, { type: "completed", durationSeconds: 1, metrics: { trainPairs: 1 }, artifactKey: `evaluators/${t.tenant.uuid}/${jobId}/evaluator.safetensors` });
    const models = await api.gqlOk<any>(`{ models(first: 50) { edges { node { name kind config } } } }`, {}, t.tenant.key);
    const model = models.models.edges.map((e: any) => e.node).find((m: any) => m.name === "pooled-rm");
    assert.equal(model?.kind, "EVALUATOR", JSON.stringify(models));
    assert.deepEqual([model.config.pooling, model.config.trainSplit, model.config.heldOutSplit, model.config.labelName], ["mean", "VALIDATION", "TRAIN", "safer"]);
  });

  it("refuses equal train and held-out splits, and a train split without records, naming the field", async () => {
    const same = await mutate({ evaluatorName: "same-rm", trainSplit: "TRAIN", heldOutSplit: "TRAIN" });
    assert.equal(same.__typename, "ValidationError", JSON.stringify(same));
    assert.equal(same.field, "input.heldOutSplit");
    assert.match(same.message, /must differ from trainSplit \(both TRAIN\)/);
    const defaultCollision = await mutate({ evaluatorName: "same-rm", heldOutSplit: "VALIDATION" });
    assert.equal(defaultCollision.field, "input.heldOutSplit", "trainSplit defaults to VALIDATION");
    // pku16 with the default ratios (0.9 / 0.05 / 0.05) has no TEST record.
    const empty = await mutate({ evaluatorName: "test-rm", trainSplit: "TEST", heldOutSplit: "VALIDATION" });
    assert.equal(empty.__typename, "ValidationError", JSON.stringify(empty));
    assert.equal(empty.field, "input.trainSplit");
    assert.match(empty.message, /no TEST records; register it with a larger test share \(splitRatios\)/);
    const unknown = await api.gql<any>(TRAIN_EVALUATOR, { input: input({ evaluatorName: "max-rm", pooling: "MAX" }) }, t.tenant.key);
    assert.ok(unknown.errors?.some((e: { message: string }) => e.message.includes("EvaluatorPooling")), JSON.stringify(unknown));
    const queued = await api.db.system.job.findMany({ where: { tenantId: t.tenant.uuid, kind: "TRAIN_EVALUATOR" }, select: { payload: true } });
    const names = queued.map((j) => (j.payload as { evaluatorName: string }).evaluatorName);
    assert.ok(names.includes("pooled-rm"));
    for (const refused of ["same-rm", "test-rm", "max-rm"]) assert.ok(!names.includes(refused), `no job for ${refused}`);
  });
});

describe("cancelJob and the concurrent-job quota", () => {
  it("enforces maxConcurrentJobs; cancelling a QUEUED job frees the slot; finished jobs are not cancellable", async () => {
    const small = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 1 });
    const saved = w;
    w = { tenant: small, ...(await world(small.key)) };
    try {
      const first = await start(trainingInput());
      assert.equal(first.__typename, "StartTrainingSuccess");
      const second = await start(trainingInput());
      assert.equal(second.__typename, "QuotaExceeded");
      assert.equal(second.quota, "maxConcurrentJobs");
      assert.equal(second.limit, 1);
      assert.equal(second.retryAfter, 30);

      const cancelled = (await api.gqlOk<any>(CANCEL, { id: first.job.id }, small.key)).cancelJob;
      assert.equal(cancelled.__typename, "CancelJobSuccess");
      assert.equal(cancelled.job.status, "CANCELLED");
      assert.equal(cancelled.job.cancelRequested, true);
      assert.ok(cancelled.job.finishedAt);
      const events = await api.bus.readEvents(uuidOf(first.job.id));
      assert.deepEqual(events.map((e) => [e.event.type, (e.event as { code?: string }).code]), [["failed", "CANCELLED"]]);

      const again = (await api.gqlOk<any>(CANCEL, { id: first.job.id }, small.key)).cancelJob;
      assert.equal(again.__typename, "JobNotCancellable");
      assert.equal(again.status, "CANCELLED");
      assert.equal(again.jobId, first.job.id);

      const third = await start(trainingInput());
      assert.equal(third.__typename, "StartTrainingSuccess");
      await ingestJobEvent(api.db, api.server.pubSub, uuidOf(third.job.id), 1, { type: "started", runnerId: "r1", attempt: 1, device: "cpu", resumedFromStep: 0 });
      const running = (await api.gqlOk<any>(CANCEL, { id: third.job.id }, small.key)).cancelJob;
      assert.equal(running.__typename, "CancelJobSuccess");
      assert.equal(running.job.status, "RUNNING");
      assert.equal(running.job.cancelRequested, true);

      const missing = Buffer.from("Job:00000000-0000-4000-8000-000000000000").toString("base64");
      const notFound = (await api.gqlOk<any>(CANCEL, { id: missing }, small.key)).cancelJob;
      assert.equal(notFound.__typename, "NotFoundError");
      const badId = (await api.gqlOk<any>(CANCEL, { id: "x" }, small.key)).cancelJob;
      assert.equal(badId.__typename, "ValidationError");
    } finally {
      w = saved;
    }
  });

  it("keeps the job QUEUED (for the reconciler) when publishing fails", async () => {
    const failingBus = { publishJob: async (_: JobEnvelope) => Promise.reject(new Error("nats down")) };
    const deps = { tenantId: w.tenant.uuid, db: api.db.forTenant(w.tenant.uuid), bus: failingBus, log: silentLogger };
    const existing = (await api.db.system.job.findFirst({ where: { tenantId: w.tenant.uuid, kind: "TRAIN" } }))!;
    const countBefore = await api.db.system.job.count({ where: { tenantId: w.tenant.uuid } });
    const result = await enqueueJob(deps, "train", existing.payload as never);
    assert.equal(result.published, false);
    assert.equal(await api.db.system.job.count({ where: { tenantId: w.tenant.uuid } }), countBefore + 1);
    const stored = await api.db.system.job.findUnique({ where: { id: result.job.id } });
    assert.equal(stored?.status, "QUEUED");
  });
});

describe("jobs query", () => {
  it("filters by kind and status", async () => {
    const trains = await api.gqlOk<any>(`{ jobs(first: 100, kind: TRAIN) { edges { node { kind status } } } }`, {}, w.tenant.key);
    assert.ok(trains.jobs.edges.length >= 2);
    assert.ok(trains.jobs.edges.every((e: any) => e.node.kind === "TRAIN"));
    const evaluators = await api.gqlOk<any>(`{ jobs(first: 100, kind: TRAIN_EVALUATOR, status: QUEUED) { edges { node { kind status } } } }`, {}, w.tenant.key);
    assert.equal(evaluators.jobs.edges.length, 1);
    const succeeded = await api.gqlOk<any>(`{ jobs(first: 100, status: SUCCEEDED) { edges { node { id } } } }`, {}, w.tenant.key);
    assert.equal(succeeded.jobs.edges.length, 0);
  });
});

describe("ingestJobEvent and jobEvents", () => {
  it("replays stored events to a late subscriber, then live ones, skips duplicates, and completes at the end", async () => {
    const started = await start(trainingInput({ adapterName: "streamed" }));
    const jobId = uuidOf(started.job.id);
    const first = await ingestJobEvent(api.db, api.server.pubSub, jobId, 10, { type: "started", runnerId: "runner-a", attempt: 1, device: "cpu", resumedFromStep: 0 });
    assert.equal(first.ingested, true);
    assert.equal(first.status, "RUNNING");

    const { iterator } = await api.subscribe<any>(
      `subscription($id: ID!) { jobEvents(jobId: $id) { jobId seq type payload } }`,
      { id: started.job.id },
      w.tenant.key,
    );
    const replayed = await nextWithin(iterator, 5000, "replayed started event");
    assert.equal(replayed.value.data.jobEvents.type, "started");
    assert.equal(replayed.value.data.jobEvents.seq, 10);
    assert.equal(replayed.value.data.jobEvents.jobId, started.job.id);

    const progress = { type: "progress", step: 5, totalSteps: 10, percent: 50, etaSeconds: 3, lossPerObjective: [0.7, 0.6], tokensPerSecond: 100 };
    assert.equal((await ingestJobEvent(api.db, api.server.pubSub, jobId, 11, progress)).ingested, true);
    const live = await nextWithin(iterator, 5000, "live progress event");
    assert.equal(live.value.data.jobEvents.seq, 11);
    assert.equal(live.value.data.jobEvents.payload.percent, 50);

    const duplicate = await ingestJobEvent(api.db, api.server.pubSub, jobId, 11, progress);
    assert.equal(duplicate.ingested, false);
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 12, { type: "artifact", kind: "adapter", key: "adapters/streamed.bin", sha256: "a".repeat(64), sizeBytes: 1000 });
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 13, {
      type: "completed",
      durationSeconds: 12.5,
      metrics: { "loss.helpfulness": 0.4 },
      artifactKey: "adapters/streamed.bin",
    });
    const artifact = await nextWithin(iterator, 5000, "artifact event");
    assert.equal(artifact.value.data.jobEvents.seq, 12, "the duplicate seq 11 was not delivered again");
    const completed = await nextWithin(iterator, 5000, "completed event");
    assert.equal(completed.value.data.jobEvents.type, "completed");
    const end = await nextWithin(iterator, 5000, "end of subscription");
    assert.equal(end.done, true);

    const job = await api.db.system.job.findUnique({ where: { id: jobId } });
    assert.equal(job?.status, "SUCCEEDED");
    assert.equal(job?.progress, 100);
    assert.equal(job?.lastEventSeq, 13n);
    assert.equal(await api.db.system.jobEvent.count({ where: { jobId } }), 4);
    // A late progress event does not revive the finished job.
    await ingestJobEvent(api.db, api.server.pubSub, jobId, 14, { ...progress, percent: 10 });
    assert.equal((await api.db.system.job.findUnique({ where: { id: jobId } }))?.progress, 100);

    const adapters = await api.gqlOk<any>(
      `{ adapters(first: 10) { edges { node { id name method r1 r2 loraAlpha dimensionNames dimensionIds artifactDigest jobId baseModel { id } } } } }`,
      {},
      w.tenant.key,
    );
    const adapter = adapters.adapters.edges.map((e: any) => e.node).find((a: any) => a.name === "streamed");
    assert.ok(adapter);
    assert.equal(adapter.method, "PARM");
    assert.deepEqual(adapter.dimensionNames, ["helpfulness", "harmlessness"]);
    assert.deepEqual(adapter.dimensionIds, [w.helpful, w.harmless]);
    assert.equal(adapter.artifactDigest, "a".repeat(64));
    assert.equal(adapter.jobId, started.job.id);
    assert.equal(adapter.baseModel.id, w.model);

    const stored = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { ... on Job { status events(afterSeq: 11) { seq type } } } }`, { id: started.job.id }, w.tenant.key);
    assert.deepEqual(stored.node.events.map((e: any) => e.seq), [12, 13, 14]);
  });

  it("a subscriber to a finished job gets the stored events and completes; malformed events are refused", async () => {
    const jobs = await api.gqlOk<any>(`{ jobs(first: 100, status: SUCCEEDED) { edges { node { id } } } }`, {}, w.tenant.key);
    const id = jobs.jobs.edges[0].node.id;
    const { iterator } = await api.subscribe<any>(`subscription($id: ID!) { jobEvents(jobId: $id) { seq } }`, { id }, w.tenant.key);
    const seqs: number[] = [];
    for (;;) {
      const next = await nextWithin(iterator, 5000, "replay");
      if (next.done) break;
      seqs.push(next.value.data.jobEvents.seq);
    }
    assert.deepEqual(seqs, [10, 11, 12, 13, 14]);
    await assert.rejects(ingestJobEvent(api.db, api.server.pubSub, uuidOf(id), 99, { type: "progress", percent: 500 }), /JobEvent is invalid/);
    await assert.rejects(
      ingestJobEvent(api.db, api.server.pubSub, "00000000-0000-4000-8000-000000000000", 1, { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 }),
      /was not found/,
    );
  });
});

describe("startJobEventIngest", () => {
  it("ingests events published on the bus (resuming after the last ingested seq) and skips unknown jobs", async () => {
    const started = await start(trainingInput({ adapterName: "from-bus" }));
    const jobId = uuidOf(started.job.id);
    const warnings: string[] = [];
    const subscription = await startJobEventIngest({ db: api.db, bus: api.bus, pubSub: api.server.pubSub, log: { warn: (m) => warnings.push(m) } });
    try {
      await api.bus.publishEvent("00000000-0000-4000-8000-00000000beef", { type: "started", runnerId: "r", attempt: 1, device: "cpu", resumedFromStep: 0 });
      const { seq } = await api.bus.publishEvent(jobId, { type: "started", runnerId: "runner-bus", attempt: 2, device: "cpu", resumedFromStep: 0 });
      const deadline = Date.now() + 5000;
      let job = await api.db.system.job.findUnique({ where: { id: jobId } });
      while (job?.status !== "RUNNING" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        job = await api.db.system.job.findUnique({ where: { id: jobId } });
      }
      assert.equal(job?.status, "RUNNING");
      assert.equal(job?.runnerId, "runner-bus");
      assert.equal(job?.attempts, 2);
      assert.equal(job?.lastEventSeq, BigInt(seq));
      assert.ok(warnings.includes("job event not ingested"), "the unknown job's event was skipped with a warning");
    } finally {
      await subscription.stop();
    }
  });
});
