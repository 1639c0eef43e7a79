/** @module test/api/tenancy-domain — every domain query, mutation and subscription tried with another tenant's ids
 *  (they read exactly like missing ones and change nothing) and without access (anonymous, platform admin). */
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
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

interface World {
  tenant: TestTenant;
  dims: string[];
  model: string;
  evaluators: string[];
  dataset: string;
  emptyDataset: string;
  adapter: string;
  trainJob: string;
  generation: string;
  generationJob: string;
  evaluation: string;
}

let api: TestApi;
let artifacts: string;
let a: World;
let b: World;

async function buildWorld(): Promise<World> {
  const tenant = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 100 });
  const key = tenant.key;
  const ok = (q: string, v: Record<string, unknown> = {}) => api.gqlOk<any>(q, v, key);
  const dims: string[] = [];
  for (const name of ["helpfulness", "harmlessness"]) {
    dims.push((await ok(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name })).createDimension.dimension.id);
  }
  const register = async (input: Record<string, unknown>) =>
    (await ok(`mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } } }`, { input })).registerModel.model.id as string;
  const model = await register({ name: "tiny", kind: "BASE", location: GGUF.href });
  const evaluators = [
    await register({ name: "help-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dims[0] }),
    await register({ name: "harm-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: dims[1] }),
  ];
  const createDs = async (name: string) =>
    (
      await ok(`mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } } }`, {
        input: { name, format: "PKU_SAFERLHF", splitRatios: { train: 0.5, validation: 0, test: 0.5 }, labels: [{ label: "better", dimensionId: dims[0] }, { label: "safer", dimensionId: dims[1] }] },
      })
    ).createDataset.dataset.id as string;
  const dataset = await createDs("pku");
  const emptyDataset = await createDs("empty");
  await ok(`mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { __typename } }`, { input: { datasetId: dataset, contentBase64: (await readFile(PKU)).toString("base64") } });
  const train = await ok(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } } }`, {
    input: { adapterName: "arm", method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) },
  });
  const finished = await ok(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } } }`, {
    input: { adapterName: "arm-finished", method: "PARM", baseModelId: model, dimensions: dims.map((d) => ({ dimensionId: d, datasetId: dataset })) },
  });
  await ingestJobEvent(api.db, api.server.pubSub, uuidOf(finished.startTraining.job.id), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/arm" });
  const adapter = (await ok(`{ adapters(first: 1) { edges { node { id } } } }`)).adapters.edges[0].node.id;
  const gen = await ok(`mutation($input: GenerateInput!) { generate(input: $input) { ... on GenerateSuccess { generation { id jobId } } } }`, {
    input: { baseModelId: model, adapterId: adapter, prompt: "Hi", alphas: [[0.5, 0.5]] },
  });
  const ev = await ok(`mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) { ... on StartEvaluationSuccess { evaluation { id } } ... on Error { message } } }`, {
    input: { adapterId: adapter, baseModelId: model, datasetId: dataset, promptCount: 1, evaluatorIds: evaluators },
  });
  assert.ok(ev.startEvaluation.evaluation, JSON.stringify(ev));
  return {
    tenant,
    dims,
    model,
    evaluators,
    dataset,
    emptyDataset,
    adapter,
    trainJob: train.startTraining.job.id,
    generation: gen.generate.generation.id,
    generationJob: gen.generate.generation.jobId,
    evaluation: ev.startEvaluation.evaluation.id,
  };
}

/** Every domain mutation, each naming `owner`'s ids while being otherwise valid for `caller`. */
function crossTenantMutations(caller: World, owner: World): [string, string, Record<string, unknown>][] {
  return [
    ["createDataset", "CreateDatasetInput", { name: "x", format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: owner.dims[0] }] }],
    ["uploadDataset", "UploadDatasetInput", { datasetId: owner.emptyDataset, contentBase64: Buffer.from("{}").toString("base64") }],
    ["registerModel", "RegisterModelInput", { name: "x-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: owner.dims[0] }],
    ["startTraining", "StartTrainingInput", { adapterName: "x", method: "PARM", baseModelId: owner.model, dimensions: [{ dimensionId: caller.dims[0], datasetId: caller.dataset }] }],
    ["startTraining", "StartTrainingInput", { adapterName: "x", method: "PARM", baseModelId: caller.model, dimensions: [{ dimensionId: caller.dims[0], datasetId: owner.dataset }] }],
    ["startTraining", "StartTrainingInput", { adapterName: "x", method: "GENARM", baseModelId: caller.model, dimensions: [{ dimensionId: owner.dims[0], datasetId: caller.dataset }] }],
    ["trainEvaluator", "TrainEvaluatorInput", { evaluatorName: "x-rm2", dimensionId: caller.dims[0], baseModelId: caller.model, datasetId: owner.dataset }],
    ["trainEvaluator", "TrainEvaluatorInput", { evaluatorName: "x-rm3", dimensionId: owner.dims[0], baseModelId: caller.model, datasetId: caller.dataset }],
    ["generate", "GenerateInput", { baseModelId: caller.model, adapterId: owner.adapter, prompt: "Hi", alphas: [[0.5, 0.5]] }],
    ["generate", "GenerateInput", { baseModelId: owner.model, adapterId: caller.adapter, prompt: "Hi", alphas: [[0.5, 0.5]] }],
    ["startEvaluation", "StartEvaluationInput", { adapterId: owner.adapter, baseModelId: caller.model, datasetId: caller.dataset, promptCount: 1, evaluatorIds: caller.evaluators }],
    ["startEvaluation", "StartEvaluationInput", { adapterId: caller.adapter, baseModelId: caller.model, datasetId: owner.dataset, promptCount: 1, evaluatorIds: caller.evaluators }],
    ["startEvaluation", "StartEvaluationInput", { adapterId: caller.adapter, baseModelId: caller.model, datasetId: caller.dataset, promptCount: 1, evaluatorIds: [owner.evaluators[0], caller.evaluators[1]] }],
    ["cancelJob", "CancelJobInput", { jobId: owner.trainJob }],
    ["deleteDataset", "DeleteDatasetInput", { id: owner.emptyDataset }],
    ["deleteModel", "DeleteModelInput", { id: owner.evaluators[0] }],
    ["deleteAdapter", "DeleteAdapterInput", { id: owner.adapter }],
    ["deleteGeneration", "DeleteGenerationInput", { id: owner.generation }],
    ["deleteEvaluation", "DeleteEvaluationInput", { id: owner.evaluation }],
  ];
}

const mutationText = (field: string, inputType: string) =>
  `mutation($input: ${inputType}!) { ${field}(input: $input) { __typename ... on Error { message } ... on NotFoundError { id } } }`;

const SUBSCRIPTIONS: [string, (w: World) => string][] = [
  ["subscription($id: ID!) { jobEvents(jobId: $id) { seq } }", (w) => w.trainJob],
  ["subscription($id: ID!) { generationTokens(generationId: $id) { text } }", (w) => w.generation],
  ["subscription($id: ID!) { evaluationPoints(evaluationId: $id) { index } }", (w) => w.evaluation],
];

/** The errors a subscription ends with: delivered as a `next` result with errors, or as an `error` message. */
async function subscriptionErrors(query: string, id: string, key: string): Promise<{ message: string; extensions?: { code?: string } }[]> {
  const { iterator } = await api.subscribe<any>(query, { id }, key);
  try {
    const next = await nextWithin(iterator, 5000, query);
    assert.equal(next.value?.data ?? null, null, `${query} delivered data`);
    return next.value?.errors ?? [];
  } catch (error) {
    if (error instanceof Error && /nothing within/.test(error.message)) throw error;
    return (Array.isArray(error) ? error : [error]) as { message: string; extensions?: { code?: string } }[];
  }
}

const LIST_QUERIES = ["datasets", "models", "adapters", "jobs", "generations", "evaluations"];

before(async () => {
  artifacts = await mkdtemp(join(tmpdir(), "parm-artifacts-"));
  api = await startTestApi({ serviceFactories: [localArtifactServiceFactory(artifacts)] });
  a = await buildWorld();
  b = await buildWorld();
});
after(async () => {
  await api?.stop();
  await rm(artifacts, { recursive: true, force: true });
});

describe("another tenant's ids", () => {
  it("node(id:) returns null for each of the other tenant's objects, and the owner's own key sees them", async () => {
    for (const id of [a.dataset, a.model, a.adapter, a.trainJob, a.generation, a.evaluation]) {
      const asB = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { id } }`, { id }, b.tenant.key);
      assert.equal(asB.node, null, id);
      const asA = await api.gqlOk<any>(`query($id: ID!) { node(id: $id) { id } }`, { id }, a.tenant.key);
      assert.equal(asA.node?.id, id);
    }
  });

  it("list queries show only the caller's rows", async () => {
    const aIds = new Set([a.dataset, a.emptyDataset, a.model, ...a.evaluators, a.adapter, a.trainJob, a.generation, a.evaluation]);
    for (const field of LIST_QUERIES) {
      const data = await api.gqlOk<any>(`{ ${field}(first: 100) { edges { node { id } } } }`, {}, b.tenant.key);
      const ids: string[] = data[field].edges.map((e: any) => e.node.id);
      assert.ok(ids.length > 0, field);
      assert.ok(ids.every((id) => !aIds.has(id)), `${field} leaks another tenant's rows`);
    }
  });

  it("every mutation answers NotFoundError naming the foreign id, and changes nothing", async () => {
    const countsBefore = await api.db.system.job.count({ where: { tenantId: b.tenant.uuid } });
    for (const [field, inputType, input] of crossTenantMutations(b, a)) {
      const data = await api.gqlOk<any>(mutationText(field, inputType), { input }, b.tenant.key);
      assert.equal(data[field].__typename, "NotFoundError", `${field} ${JSON.stringify(input)} → ${JSON.stringify(data[field])}`);
      assert.ok(Object.values(a).flat().includes(data[field].id), `${field} names the foreign id`);
    }
    assert.equal(await api.db.system.job.count({ where: { tenantId: b.tenant.uuid } }), countsBefore);
    const job = await api.db.system.job.findUnique({ where: { id: uuidOf(a.trainJob) } });
    assert.equal(job?.status, "QUEUED");
    assert.equal(job?.cancelRequested, false);
    const stream = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(a.emptyDataset)}/records`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.tenant.key}` },
      body: await readFile(PKU),
    });
    assert.equal(stream.status, 404);
    assert.equal(await api.db.system.datasetRecord.count({ where: { datasetId: uuidOf(a.emptyDataset) } }), 0);
  });

  it("every subscription refuses the other tenant's id as not found", async () => {
    for (const [query, idOf] of SUBSCRIPTIONS) {
      const errors = await subscriptionErrors(query, idOf(a), b.tenant.key);
      assert.match(errors[0]?.message ?? "", /was not found/, query);
      assert.equal(errors[0]?.extensions?.code, "BAD_USER_INPUT", query);
      const own = await api.subscribe<any>(query, { id: idOf(b) }, b.tenant.key);
      const first = nextWithin(own.iterator, 300, query).catch((e: Error) => e);
      const result = await first;
      assert.ok(result instanceof Error || !result.value?.errors, `${query}: the owner may subscribe`);
    }
  });
});

describe("no access", () => {
  it("anonymous callers get UNAUTHENTICATED (HTTP 401) on every query and mutation", async () => {
    for (const field of LIST_QUERIES) {
      const res = await api.gql(`{ ${field}(first: 1) { edges { node { id } } } }`);
      assert.equal(res.status, 401, field);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", field);
    }
    for (const [field, inputType, input] of crossTenantMutations(a, a)) {
      const res = await api.gql(mutationText(field, inputType), { input });
      assert.equal(res.status, 401, field);
      assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", field);
    }
    const stream = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(a.emptyDataset)}/records`, { method: "POST", body: "{}" });
    assert.equal(stream.status, 401);
  });

  it("the platform admin key is FORBIDDEN on tenant data: queries, mutations and subscriptions", async () => {
    for (const field of LIST_QUERIES) {
      const res = await api.gql(`{ ${field}(first: 1) { edges { node { id } } } }`, {}, api.adminKey);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", field);
    }
    for (const [field, inputType, input] of crossTenantMutations(a, a)) {
      const res = await api.gql(mutationText(field, inputType), { input }, api.adminKey);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", field);
    }
    for (const [query, idOf] of SUBSCRIPTIONS) {
      const errors = await subscriptionErrors(query, idOf(a), api.adminKey);
      assert.equal(errors[0]?.extensions?.code, "FORBIDDEN", query);
    }
  });

  it("the platform admin may read any tenant's objects through node(id:), nested fields included", async () => {
    const q = `query($e: ID!, $j: ID!, $a: ID!, $g: ID!) {
      e: node(id: $e) { ... on Evaluation { id points { index } job { id } } }
      j: node(id: $j) { ... on Job { id events { seq } } }
      a: node(id: $a) { ... on Adapter { id baseModel { id } } }
      g: node(id: $g) { ... on Generation { id job { id } } } }`;
    const res = await api.gql<any>(q, { e: a.evaluation, j: a.trainJob, a: a.adapter, g: a.generation }, api.adminKey);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.equal(res.data.e.id, a.evaluation);
    assert.ok(res.data.e.job.id);
    assert.equal(res.data.a.baseModel.id, a.model);
    assert.equal(res.data.g.job.id, a.generationJob);
    assert.deepEqual(res.data.j.events, []);
  });

  it("a WebSocket without a key is closed with 4401 before any subscription", async () => {
    const socket = api.socket({});
    const closed = await socket.closed;
    assert.equal(closed.code, 4401);
  });

  it("a MEMBER key of the owner may use every domain operation", async () => {
    const member = await api.createKey(a.tenant.key, "MEMBER");
    const generated = await api.gqlOk<any>(mutationText("generate", "GenerateInput"), {
      input: { baseModelId: a.model, adapterId: a.adapter, prompt: "Hi", alphas: [[1, 0]] },
    }, member.key);
    assert.equal(generated.generate.__typename, "GenerateSuccess");
    const cancelled = await api.gqlOk<any>(mutationText("cancelJob", "CancelJobInput"), { input: { jobId: a.generationJob } }, member.key);
    assert.equal(cancelled.cancelJob.__typename, "CancelJobSuccess");
    for (const field of LIST_QUERIES) {
      const data = await api.gqlOk<any>(`{ ${field}(first: 100) { edges { node { id } } } }`, {}, member.key);
      assert.ok(data[field].edges.length > 0, field);
    }
  });
});
