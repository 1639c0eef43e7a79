/**
 * @module test/api/hostile-inputs — a corpus of bad inputs (datasets, preference vectors, sampling, job limits,
 * model files, ids, protocol, auth), each tried against a real API over loopback. Every case asserts the typed
 * error it must get, that the server still answers, and that nothing was half-written (the tenant's row counts in
 * every table are unchanged). Cross-tenant probes of every operation live in tenancy-domain.test.ts.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { WebSocket } from "ws";
import { ingestJobEvent } from "../../src/api/services/job-events.ts";
import { serviceFactories } from "../../src/api/resolvers/index.ts";
import { DEFAULT_JOB_LIMITS, type JobLimits } from "../../src/contracts/index.ts";
import { SHARED_DATA_DIR, startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const GGUF = new URL("tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", `file://${SHARED_DATA_DIR}`);
const PKU = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", `file://${SHARED_DATA_DIR}`);
/** Small enough that the tiny dataset can exceed them: 8 TRAIN pairs × 200 epochs, 101 points × 2 prompts × 500 tokens. */
const LIMITS: JobLimits = { ...DEFAULT_JOB_LIMITS, maxTrainingPairPasses: 1000, maxEvaluationTokens: 50_000 };
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

let api: TestApi;
let t: TestTenant;
let other: TestTenant;
let member: { id: string; key: string };
let revoked: string;
const w = { dims: [] as string[], model: "", evaluators: [] as string[], dataset: "", empty: "", adapter: "", otherDataset: "", otherDim: "" };
let pkuLine: Record<string, unknown>;

/** What each error member's selection reads (no two share a field name with another type). */
const MEMBER_FIELDS: Readonly<Record<string, string>> = {
  ValidationError: "field message",
  LimitExceeded: "limitName field message",
  InvalidPreferenceVector: "code index message",
  ModelFileInvalid: "problem message",
  DatasetValidationFailed: "message report { issues { line code reason } }",
  QuotaExceeded: "quota message",
};
/** Each mutation's payload union members, read once by introspection (with a key). */
let payloadMembers: Map<string, string[]>;

async function loadPayloadMembers(): Promise<Map<string, string[]>> {
  const data = await api.gqlOk<any>(`{ __schema { mutationType { fields { name type { name ofType { name possibleTypes { name } } } } } } }`, {}, t.key);
  return new Map(data.__schema.mutationType.fields.map((f: any) => [f.name, (f.type.ofType?.possibleTypes ?? []).map((m: any) => m.name)]));
}

/** The selection of a mutation's payload: `__typename`, each member's fields, and `message` of any Error. */
function selectionOf(field: string): string {
  const members = payloadMembers.get(field) ?? [];
  return ["__typename", ...members.filter((m) => MEMBER_FIELDS[m]).map((m) => `... on ${m} { ${MEMBER_FIELDS[m]} }`), "... on Error { message }"].join(" ");
}

interface Answer {
  status: number;
  payload?: Record<string, any>;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function mutate(field: string, inputType: string, input: unknown, key: string = t.key): Promise<Answer> {
  const res = await api.gql<any>(`mutation($input: ${inputType}!) { ${field}(input: $input) { ${selectionOf(field)} } }`, { input }, key);
  return { status: res.status, payload: res.data?.[field] ?? undefined, errors: res.errors };
}

async function rawPost(body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(api.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${t.key}`, ...headers }, body });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

function expectPayload(answer: Answer, typename: string, check: (payload: Record<string, any>) => void = () => {}): void {
  assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  assert.equal(answer.payload?.__typename, typename, JSON.stringify(answer.payload));
  check(answer.payload!);
}
function expectField(answer: Answer, field: string): void {
  expectPayload(answer, "ValidationError", (p) => assert.equal(p.field, field, p.message));
}
function expectTopLevel(answer: Answer, code: string, status?: number): void {
  assert.ok(answer.errors?.length, `expected a top-level ${code}: ${JSON.stringify(answer)}`);
  assert.equal(answer.errors![0]!.extensions?.code, code, JSON.stringify(answer.errors));
  if (status !== undefined) assert.equal(answer.status, status);
}

function pkuJsonl(lines: unknown[]): string {
  return Buffer.from(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n").toString("base64");
}
async function upload(contentBase64: string, datasetId = w.empty, key = t.key): Promise<Answer> {
  return await mutate("uploadDataset", "UploadDatasetInput", { datasetId, contentBase64 }, key);
}
function expectLineIssue(answer: Answer, line: number, code: string): void {
  expectPayload(answer, "DatasetValidationFailed", (p) => {
    const issue = p.report.issues.find((i: { line: number }) => i.line === line);
    assert.equal(issue?.code, code, JSON.stringify(p.report.issues));
  });
}
const bothLabels = () => [{ label: "better", dimensionId: w.dims[0] }, { label: "safer", dimensionId: w.dims[1] }];
const datasetInput = (over: Record<string, unknown>) => ({ name: "x", format: "PKU_SAFERLHF", labels: bothLabels(), ...over });
const generateInput = (over: Record<string, unknown> = {}) => ({ baseModelId: w.model, adapterId: w.adapter, prompt: "Once upon a time", alphas: [[0.5, 0.5]], maxTokens: 8, ...over });
const evaluationInput = (over: Record<string, unknown> = {}) => ({
  adapterId: w.adapter, baseModelId: w.model, datasetId: w.dataset, split: "TEST", promptCount: 2, gridStep: 0.5, evaluatorIds: w.evaluators, maxTokens: 8, ...over,
});
const trainingInput = (over: Record<string, unknown> = {}) => ({
  adapterName: "hostile", method: "PARM", baseModelId: w.model, dimensions: w.dims.map((d) => ({ dimensionId: d, datasetId: w.dataset })), ...over,
});
const generate = (over: Record<string, unknown>) => mutate("generate", "GenerateInput", generateInput(over));
const evaluate = (over: Record<string, unknown>) => mutate("startEvaluation", "StartEvaluationInput", evaluationInput(over));
const train = (over: Record<string, unknown>) => mutate("startTraining", "StartTrainingInput", trainingInput(over));

/** The tenant's rows in every table: what a refused request must leave unchanged. */
async function footprint(tenantId: string): Promise<Record<string, number>> {
  const s = api.db.system;
  const where = { where: { tenantId } };
  return {
    apiKeys: await s.apiKey.count(where),
    dimensions: await s.preferenceDimension.count(where),
    datasets: await s.dataset.count(where),
    records: await s.datasetRecord.count(where),
    models: await s.model.count(where),
    adapters: await s.adapter.count(where),
    jobs: await s.job.count(where),
    events: await s.jobEvent.count(where),
    generations: await s.generation.count(where),
    evaluations: await s.evaluation.count(where),
  };
}

async function setUpWorld(): Promise<void> {
  const ok = (q: string, v: Record<string, unknown> = {}) => api.gqlOk<any>(q, v, t.key);
  for (const name of ["helpfulness", "harmlessness"]) {
    w.dims.push((await ok(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name })).createDimension.dimension.id);
  }
  const register = async (input: Record<string, unknown>) =>
    (await ok(`mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } } }`, { input })).registerModel.model.id as string;
  w.model = await register({ name: "tiny", kind: "BASE", location: GGUF.href });
  w.evaluators = [
    await register({ name: "help-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: w.dims[0] }),
    await register({ name: "harm-rm", kind: "EVALUATOR", location: GGUF.href, dimensionId: w.dims[1] }),
  ];
  const createDs = async (name: string, key = t.key, labels = [{ label: "better", dimensionId: w.dims[0] }, { label: "safer", dimensionId: w.dims[1] }]) =>
    {
      const payload = (
        await api.gqlOk<any>(`mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`, {
          input: { name, format: "PKU_SAFERLHF", splitRatios: { train: 0.5, validation: 0, test: 0.5 }, labels },
        }, key)
      ).createDataset;
      return (payload.dataset?.id ?? assert.fail(`createDataset ${name}: ${payload.message}`)) as string;
    };
  w.dataset = await createDs("pku");
  w.empty = await createDs("empty");
  await ok(`mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { __typename } }`, { input: { datasetId: w.dataset, contentBase64: (await readFile(PKU)).toString("base64") } });
  const job = (await ok(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { ... on StartTrainingSuccess { job { id } } } }`, { input: trainingInput({ adapterName: "parm" }) })).startTraining.job.id;
  await ingestJobEvent(api.db, api.server.pubSub, uuidOf(job), 1, { type: "completed", durationSeconds: 1, metrics: {}, artifactKey: "adapters/parm" });
  w.adapter = (await ok(`{ adapters(first: 1) { edges { node { id } } } }`)).adapters.edges[0].node.id;
  const theirs: string[] = [];
  for (const name of ["theirs-a", "theirs-b"]) {
    theirs.push((await api.gqlOk<any>(`mutation($n: String!) { createDimension(input: { name: $n }) { ... on CreateDimensionSuccess { dimension { id } } } }`, { n: name }, other.key)).createDimension.dimension.id);
  }
  w.otherDim = theirs[0]!;
  w.otherDataset = await createDs("theirs", other.key, [{ label: "better", dimensionId: theirs[0] }, { label: "safer", dimensionId: theirs[1] }]);
}

before(async () => {
  api = await startTestApi({ limits: { bodyLimitBytes: 256 * 1024 }, serviceFactories: [...serviceFactories, () => ({ jobLimits: LIMITS })] });
  t = await api.createTenantWithKey(undefined, { maxConcurrentJobs: 100 });
  other = await api.createTenantWithKey();
  member = await api.createKey(t.key, "MEMBER");
  const doomed = await api.createKey(t.key, "MEMBER", "doomed");
  await api.gqlOk(`mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`, { id: doomed.id }, t.key);
  revoked = doomed.key;
  payloadMembers = await loadPayloadMembers();
  await setUpWorld();
  pkuLine = JSON.parse((await readFile(PKU, "utf8")).split("\n")[0]!);
});
after(async () => {
  await api?.stop();
});

type Case = [name: string, run: () => Promise<void>];

const datasetCases: Case[] = [
  ["a line that is not JSON", async () => expectLineIssue(await upload(pkuJsonl([pkuLine, "{not json"])), 2, "MALFORMED_JSON")],
  ["a line missing response_1", async () => expectLineIssue(await upload(pkuJsonl([{ ...pkuLine, response_1: undefined }])), 1, "MISSING_FIELD")],
  ["an empty response", async () => expectLineIssue(await upload(pkuJsonl([{ ...pkuLine, response_0: "" }])), 1, "EMPTY_RESPONSE")],
  ["identical responses", async () => expectLineIssue(await upload(pkuJsonl([{ ...pkuLine, response_1: pkuLine.response_0 }])), 1, "IDENTICAL_PAIR")],
  ["a label out of range", async () => expectLineIssue(await upload(pkuJsonl([{ ...pkuLine, better_response_id: 7 }])), 1, "INVALID_LABEL")],
  ["a NUL in a prompt", async () => expectLineIssue(await upload(pkuJsonl([pkuLine, { ...pkuLine, prompt: "a\u0000b" }])), 2, "NUL_CHARACTER")],
  ["bytes that are not UTF-8", async () => {
    const bytes = Buffer.concat([Buffer.from(JSON.stringify(pkuLine) + "\n"), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a])]);
    expectLineIssue(await upload(bytes.toString("base64")), 2, "NOT_UTF8");
  }],
  ["a truncated gzip", async () => {
    const gz = gzipSync(Buffer.from(JSON.stringify(pkuLine) + "\n"));
    expectPayload(await upload(gz.subarray(0, gz.length - 8).toString("base64")), "DatasetValidationFailed", (p) =>
      assert.ok(p.report.issues.some((i: { code: string }) => i.code === "CORRUPT_GZIP"), JSON.stringify(p.report.issues)));
  }],
  ["a gzip bomb of newlines (expansion ratio)", async () => {
    const bomb = gzipSync(Buffer.alloc(40 * 1024 * 1024, 0x0a), { level: 9 });
    assert.ok(bomb.length < 200 * 1024, `${bomb.length} bytes`);
    const started = Date.now();
    expectPayload(await upload(bomb.toString("base64")), "DatasetValidationFailed", (p) =>
      assert.ok(p.report.issues.some((i: { code: string }) => i.code === "EXPANSION_RATIO_EXCEEDED"), JSON.stringify(p.report.issues)));
    assert.ok(Date.now() - started < 10_000, "refused within seconds");
  }],
  ["an upload with no record", async () => expectPayload(await upload(Buffer.from("\n\n\n").toString("base64")), "DatasetValidationFailed")],
  ["invalid base64", async () => expectField(await upload("!!!not base64!!!"), "input.contentBase64")],
  ["an upload into a READY dataset", async () => expectField(await upload(pkuJsonl([pkuLine]), w.dataset), "input.datasetId")],
  ["an upload into another tenant's dataset", async () => expectPayload(await upload(pkuJsonl([pkuLine]), w.otherDataset), "NotFoundError")],
  ["an upload into a malformed dataset id", async () => expectField(await upload(pkuJsonl([pkuLine]), "not-an-id"), "input.datasetId")],
  ["an upload naming a model id as the dataset", async () => expectField(await upload(pkuJsonl([pkuLine]), w.model), "input.datasetId")],
  ["a dataset label the format does not have", async () =>
    expectPayload(await mutate("createDataset", "CreateDatasetInput", datasetInput({ labels: [...bothLabels(), { label: "funnier", dimensionId: w.dims[0] }] })), "ValidationError")],
  ["split ratios that do not sum to 1", async () =>
    expectPayload(await mutate("createDataset", "CreateDatasetInput", datasetInput({ splitRatios: { train: 0.9, validation: 0.9, test: 0 } })), "ValidationError", (p) => assert.match(p.field, /splitRatios/))],
  ["a negative split ratio", async () =>
    expectPayload(await mutate("createDataset", "CreateDatasetInput", datasetInput({ splitRatios: { train: 1.5, validation: -0.5, test: 0 } })), "ValidationError", (p) => assert.match(p.field, /splitRatios/))],
  ["a label mapped to another tenant's dimension", async () =>
    expectPayload(await mutate("createDataset", "CreateDatasetInput", datasetInput({ labels: [{ label: "better", dimensionId: w.otherDim }, bothLabels()[1]] })), "NotFoundError")],
  ["a dataset name of 10 000 characters", async () => expectField(await mutate("createDataset", "CreateDatasetInput", datasetInput({ name: "n".repeat(10_000) })), "input.name")],
  ["a dataset name holding a NUL", async () => expectField(await mutate("createDataset", "CreateDatasetInput", datasetInput({ name: "a\u0000b" })), "input.name")],
  ["a taken dataset name", async () => expectField(await mutate("createDataset", "CreateDatasetInput", datasetInput({ name: "pku" })), "input.name")],
];

const preferenceCases: Case[] = [
  ["α of the wrong length", async () => expectPayload(await generate({ alphas: [[1]] }), "InvalidPreferenceVector", (p) => assert.equal(p.code, "WRONG_LENGTH"))],
  ["a negative α entry", async () => expectPayload(await generate({ alphas: [[1.5, -0.5]] }), "InvalidPreferenceVector", (p) => assert.equal(p.code, "NEGATIVE"))],
  ["α not summing to 1", async () => expectPayload(await generate({ alphas: [[0.5, 0.6]] }), "InvalidPreferenceVector", (p) => assert.equal(p.code, "NOT_NORMALIZED"))],
  ["the second α invalid", async () => expectPayload(await generate({ alphas: [[0.5, 0.5], [0.2, 0.2]] }), "InvalidPreferenceVector", (p) => assert.match(p.message, /alphas\[1\]/))],
  ["no α at all", async () => expectField(await generate({ alphas: [] }), "input.alphas")],
  ["257 α vectors", async () => expectField(await generate({ alphas: Array.from({ length: 257 }, () => [0.5, 0.5]) }), "input.alphas")],
  ["an infinite α entry (1e309)", async () => {
    const res = await rawPost(`{"query":"mutation($i: GenerateInput!) { generate(input: $i) { __typename } }","variables":{"i":{"baseModelId":"${w.model}","adapterId":"${w.adapter}","prompt":"x","alphas":[[1e309,0]]}}}`);
    assert.equal(res.status, 400, JSON.stringify(res.json));
    assert.equal(res.json.errors[0].extensions.code, "BAD_USER_INPUT");
  }],
  ["an unguided request with α", async () => expectField(await generate({ adapterId: null, alphas: [[1, 0]] }), "input.alphas")],
  ["beta 0", async () => expectField(await generate({ beta: 0 }), "input.beta")],
  ["a negative beta", async () => expectField(await generate({ beta: -1 }), "input.beta")],
];

const samplingCases: Case[] = [
  ["temperature below 0", async () => expectField(await generate({ sampling: { temperature: -1 } }), "input.sampling.temperature")],
  ["temperature above 10", async () => expectField(await generate({ sampling: { temperature: 11 } }), "input.sampling.temperature")],
  ["topP 0", async () => expectField(await generate({ sampling: { topP: 0 } }), "input.sampling.topP")],
  ["topP above 1", async () => expectField(await generate({ sampling: { topP: 1.5 } }), "input.sampling.topP")],
  ["a negative topK", async () => expectField(await generate({ sampling: { topK: -1 } }), "input.sampling.topK")],
  ["a negative seed", async () => expectField(await generate({ sampling: { seed: -1 } }), "input.sampling.seed")],
  ["17 stop strings", async () => expectField(await generate({ sampling: { stop: Array.from({ length: 17 }, (_, i) => `s${i}`) } }), "input.sampling.stop")],
  ["an empty stop string", async () => expectField(await generate({ sampling: { stop: [""] } }), "input.sampling.stop")],
  ["a NUL in a stop string", async () => expectField(await generate({ sampling: { stop: ["ok", "a\u0000"] } }), "input.sampling.stop[1]")],
  ["a NUL in a prompt", async () => expectField(await generate({ prompt: "Once\u0000" }), "input.prompt")],
  ["an empty prompt", async () => expectField(await generate({ prompt: "" }), "input.prompt")],
  ["a prompt of 200 000 characters", async () => expectField(await generate({ prompt: "a".repeat(200_000) }), "input.prompt")],
];

const limitCases: Case[] = [
  ["maxTokens 0", async () => expectField(await generate({ maxTokens: 0 }), "input.maxTokens")],
  ["maxTokens beyond the engine's bound", async () => expectField(await generate({ maxTokens: 8193 }), "input.maxTokens")],
  ["maxTokens filling the model's context", async () => expectField(await generate({ maxTokens: 512 }), "input.maxTokens")],
  ["α × maxTokens beyond maxGenerationTokens", async () => {
    expectPayload(await generate({ alphas: Array.from({ length: 256 }, () => [0.5, 0.5]), maxTokens: 2000 }), "ValidationError", (p) => assert.equal(p.field, "input.maxTokens"));
  }],
  ["a grid of 10 001 points (gridStep 0.0001)", async () =>
    expectPayload(await evaluate({ gridStep: 0.0001 }), "LimitExceeded", (p) => assert.deepEqual([p.limitName, p.field], ["maxGridPoints", "input.gridStep"]))],
  ["gridStep whose inverse is not an integer", async () => expectField(await evaluate({ gridStep: 0.3 }), "input.gridStep")],
  ["gridStep 0", async () => expectField(await evaluate({ gridStep: 0 }), "input.gridStep")],
  ["gridStep above 1", async () => expectField(await evaluate({ gridStep: 2 }), "input.gridStep")],
  ["promptCount 0", async () => expectField(await evaluate({ promptCount: 0 }), "input.promptCount")],
  ["more prompts than the split holds", async () => expectField(await evaluate({ promptCount: 7 }), "input.promptCount")],
  ["evaluation tokens beyond maxEvaluationTokens", async () =>
    expectPayload(await evaluate({ gridStep: 0.01, promptCount: 2, maxTokens: 500 }), "LimitExceeded", (p) => assert.equal(p.limitName, "maxEvaluationTokens"))],
  ["maxPromptTokens that cannot fit", async () => expectField(await evaluate({ maxTokens: 100, maxPromptTokens: 500 }), "input.maxPromptTokens")],
  ["an evaluator of another tenant", async () => expectPayload(await evaluate({ evaluatorIds: [w.evaluators[0], w.otherDim] }), "ValidationError")],
  ["epochs 0", async () => expectField(await train({ epochs: 0 }), "input.epochs")],
  ["epochs beyond the training limit", async () =>
    expectPayload(await train({ epochs: 200 }), "LimitExceeded", (p) => assert.deepEqual([p.limitName, p.field], ["maxTrainingPairPasses", "input.epochs"]))],
  ["rank 0", async () => expectField(await train({ r1: 0 }), "input.r1")],
  ["rank 1000", async () => expectField(await train({ r2: 1000 }), "input.r2")],
  ["maxLength beyond the context", async () => expectField(await train({ maxLength: 4096 }), "input.maxLength")],
  ["maxPromptLength not below maxLength", async () => expectField(await train({ maxLength: 128, maxPromptLength: 128 }), "input.maxPromptLength")],
  ["an unknown adapter target", async () => expectField(await train({ targets: ["q_proj", "attn.c_attn"] }), "input.targets[1]")],
  ["batchSize 0", async () => expectField(await train({ batchSize: 0 }), "input.batchSize")],
  ["a negative learning rate", async () => expectField(await train({ learningRate: -0.1 }), "input.learningRate")],
  ["betaR 0", async () => expectField(await train({ dimensions: [{ dimensionId: w.dims[0], datasetId: w.dataset, betaR: 0 }] }), "input.dimensions[0].betaR")],
  ["maxPairs 0", async () => expectField(await train({ maxPairs: 0 }), "input.maxPairs")],
  ["an adapter name holding a NUL", async () => expectField(await train({ adapterName: "x\u0000" }), "input.adapterName")],
  ["training on an EMPTY dataset", async () => expectField(await train({ dimensions: [{ dimensionId: w.dims[0], datasetId: w.empty }] }), "input.dimensions[0].datasetId")],
];

const modelCases: Case[] = [
  ["registering /etc/shadow", async () =>
    expectPayload(await mutate("registerModel", "RegisterModelInput", { name: "m1", kind: "BASE", location: "/etc/shadow" }), "ModelFileInvalid", (p) => assert.equal(p.problem, "LOCATION_REFUSED"))],
  ["registering a relative path", async () =>
    expectPayload(await mutate("registerModel", "RegisterModelInput", { name: "m2", kind: "BASE", location: "../models/x.gguf" }), "ModelFileInvalid", (p) => assert.equal(p.problem, "UNSUPPORTED_LOCATION"))],
  ["registering /proc/self/environ", async () =>
    expectPayload(await mutate("registerModel", "RegisterModelInput", { name: "m3", kind: "BASE", location: "file:///proc/self/environ" }), "ModelFileInvalid", (p) => assert.equal(p.problem, "LOCATION_REFUSED"))],
  ["an inline upload that is not a model", async () =>
    expectPayload(await mutate("registerModel", "RegisterModelInput", { name: "m4", kind: "BASE", upload: { fileName: "x.gguf", contentBase64: Buffer.from("hello").toString("base64") } }), "ModelFileInvalid")],
  ["an upload file name with a path", async () =>
    expectField(await mutate("registerModel", "RegisterModelInput", { name: "m5", kind: "BASE", upload: { fileName: "../../x.gguf", contentBase64: "R0dVRg==" } }), "input.upload.fileName")],
  ["an evaluator for another tenant's dimension", async () =>
    expectPayload(await mutate("registerModel", "RegisterModelInput", { name: "m6", kind: "EVALUATOR", location: GGUF.href, dimensionId: w.otherDim }), "NotFoundError")],
  ["a streamed upload for another tenant's dimension", async () => {
    const res = await fetch(`${api.url}/v1/models?name=m7&kind=EVALUATOR&fileName=m.gguf&dimensionId=${encodeURIComponent(w.otherDim)}`, {
      method: "POST", headers: { authorization: `Bearer ${t.key}` }, body: await readFile(GGUF),
    });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as any).error.type, "NotFoundError");
  }],
  ["a streamed dataset upload into another tenant's dataset", async () => {
    const res = await fetch(`${api.url}/v1/datasets/${encodeURIComponent(w.otherDataset)}/records`, { method: "POST", headers: { authorization: `Bearer ${t.key}` }, body: JSON.stringify(pkuLine) });
    assert.equal(res.status, 404);
  }],
];

const idCases: Case[] = [
  ["cancelJob with another tenant's id form", async () => expectPayload(await mutate("cancelJob", "CancelJobInput", { jobId: Buffer.from("Job:00000000-0000-4000-8000-000000000000").toString("base64") }), "NotFoundError")],
  ["cancelJob with a dataset id", async () => expectField(await mutate("cancelJob", "CancelJobInput", { jobId: w.dataset }), "input.jobId")],
  ["deleteDimension with a non-uuid global id", async () => expectPayload(await mutate("deleteDimension", "DeleteDimensionInput", { id: Buffer.from("PreferenceDimension:'; DROP TABLE x;--").toString("base64") }), "ValidationError")],
  ["deleting a dimension a dataset maps", async () => expectPayload(await mutate("deleteDimension", "DeleteDimensionInput", { id: w.dims[0] }), "ResourceInUse")],
  ["node(id:) with garbage", async () => {
    const res = await api.gql<any>(`query($id: ID!) { node(id: $id) { id } }`, { id: "%%%" }, t.key);
    assert.ok(res.data?.node === null || res.errors?.[0]?.extensions?.code === "BAD_USER_INPUT", JSON.stringify(res.body));
  }],
  ["a cursor that is not one", async () => {
    const res = await api.gql<any>(`{ datasets(first: 5, after: "nonsense") { edges { cursor } } }`, {}, t.key);
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(res.body));
  }],
  ["first: 100000", async () => {
    const res = await api.gql<any>(`{ datasets(first: 100000) { edges { cursor } } }`, {}, t.key);
    assert.ok(["BAD_USER_INPUT", "QUERY_TOO_COMPLEX"].includes(res.errors?.[0]?.extensions?.code as string), JSON.stringify(res.body));
  }],
];

const protocolCases: Case[] = [
  ["a body over the limit", async () => {
    const res = await rawPost(JSON.stringify({ query: "{ viewer { __typename } }", variables: { pad: "x".repeat(300 * 1024) } }));
    assert.equal(res.status, 413);
  }],
  ["a body that is not JSON", async () => assert.equal((await rawPost("{ this is not json")).status, 400)],
  ["a query nested past the depth limit", async () => {
    const res = await rawPost(JSON.stringify({ query: `{ __type(name: "Query") { ${"ofType { ".repeat(14)}name${" }".repeat(14)} } }` }));
    assert.equal(res.status, 400);
    assert.equal(res.json.errors[0].extensions.code, "QUERY_TOO_DEEP", JSON.stringify(res.json));
  }],
  ["40 aliases", async () => {
    const res = await rawPost(JSON.stringify({ query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { __typename }`).join(" ")} }` }));
    assert.equal(res.json.errors[0].extensions.code, "QUERY_TOO_LARGE", JSON.stringify(res.json));
  }],
  ["an unknown field", async () => assert.equal((await rawPost(JSON.stringify({ query: "{ secrets }" }))).json.errors[0].extensions.code, "GRAPHQL_VALIDATION_FAILED")],
  ["a mutation over GET", async () => {
    const res = await fetch(`${api.graphqlUrl}?query=${encodeURIComponent('mutation { createDimension(input: { name: "get" }) { __typename } }')}`, { headers: { authorization: `Bearer ${t.key}`, "apollo-require-preflight": "1" } });
    assert.ok(res.status >= 400 && res.status < 500, String(res.status));
  }],
  ["a batched array of operations", async () => {
    const res = await rawPost(JSON.stringify([{ query: "{ viewer { __typename } }" }, { query: "{ viewer { __typename } }" }]));
    assert.ok(res.status >= 400 && res.status < 500, String(res.status));
  }],
  ["the legacy subscriptions-transport-ws protocol", async () => {
    const ws = new WebSocket(api.wsUrl, "graphql-ws");
    const outcome = await new Promise<string>((resolve) => {
      ws.on("close", (code) => resolve(`close ${code}`));
      ws.on("error", () => resolve("error"));
      ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${t.key}` } })));
      ws.on("message", (m) => { if (String(m).includes("connection_ack")) resolve("acked"); });
    });
    ws.terminate();
    assert.notEqual(outcome, "acked");
  }],
  ["anonymous introspection", async () => {
    const res = await fetch(api.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __schema { types { name } } }" }) });
    assert.equal(res.status, 401);
  }],
];

const authCases: Case[] = [
  ["no key", async () => expectTopLevel(await mutate("createDimension", "CreateDimensionInput", { name: "anon" }, ""), "UNAUTHENTICATED", 401)],
  ["a malformed bearer", async () => {
    const res = await fetch(api.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer" }, body: JSON.stringify({ query: "{ viewer { __typename } }" }) });
    assert.equal(res.status, 401);
  }],
  ["an unknown key", async () => expectTopLevel(await mutate("createDimension", "CreateDimensionInput", { name: "unknown" }, "parm_t_0000000000000000000000000000000000000000"), "UNAUTHENTICATED", 401)],
  ["a revoked key", async () => expectTopLevel(await mutate("createDimension", "CreateDimensionInput", { name: "revoked" }, revoked), "UNAUTHENTICATED", 401)],
  ["the admin key on tenant data", async () => expectTopLevel(await mutate("createDimension", "CreateDimensionInput", { name: "admin" }, api.adminKey), "FORBIDDEN", 403)],
  ["a MEMBER creating an API key", async () => expectTopLevel(await mutate("createApiKey", "CreateApiKeyInput", { name: "escalate", role: "TENANT_ADMIN" }, member.key), "FORBIDDEN", 403)],
  ["a tenant key calling an admin mutation", async () => expectTopLevel(await mutate("createTenant", "CreateTenantInput", { name: "rogue" }), "FORBIDDEN", 403)],
  ["a tenant key asking for another tenant's key", async () => expectTopLevel(await mutate("createApiKey", "CreateApiKeyInput", { name: "cross", tenantId: other.id }), "FORBIDDEN")],
];

const corpus: [string, Case[]][] = [
  ["datasets", datasetCases],
  ["preference vectors", preferenceCases],
  ["sampling and prompts", samplingCases],
  ["job limits", limitCases],
  ["model files and uploads", modelCases],
  ["ids", idCases],
  ["protocol", protocolCases],
  ["auth", authCases],
];

describe("hostile inputs: each gets its typed error, the server stays up, nothing is half-written", () => {
  it("the corpus holds at least 60 cases", () => {
    assert.ok(corpus.reduce((n, [, cases]) => n + cases.length, 0) >= 60);
  });
  for (const [group, cases] of corpus) {
    describe(group, () => {
      for (const [name, run] of cases) {
        it(name, async () => {
          const before = { mine: await footprint(t.uuid), theirs: await footprint(other.uuid) };
          await run();
          const alive = await api.gql<any>(`{ viewer { __typename } }`, {}, t.key);
          assert.equal(alive.status, 200, "the server still answers");
          assert.deepEqual({ mine: await footprint(t.uuid), theirs: await footprint(other.uuid) }, before, "nothing was written");
        });
      }
    });
  }
});
