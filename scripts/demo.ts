/**
 * @module scripts/demo — `npm run demo`: starts the platform exactly as `npm start` does (src/api/main.ts on embedded
 * defaults, its own data folder) and runs the main job through the public API, as a new tenant would:
 * create a tenant, two preference dimensions, upload the HH-RLHF helpful/harmless slices (streaming route), upload the
 * stories260K model (streaming route), train a PARM adapter, generate for three preference vectors, train one
 * evaluator per dimension, run a Pareto evaluation, print the front with its hypervolume, then stop the platform.
 *
 * Data: `PARM_DEMO_DATA` (default `../shared/data` beside the repository) must hold `hh-rlhf/*.test.jsonl.gz` and
 * `tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf`. Sizes: `PARM_DEMO_STEPS` (training updates of 4 pairs —
 * the reference recipe's updates are 32 pairs, docs/engine.md — default 40),
 * `PARM_DEMO_PROMPTS` (evaluation prompts, default 4). Exits 0 when every job succeeded, 1 otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const DATA = resolve(REPO, process.env.PARM_DEMO_DATA ?? "../shared/data");
const STEPS = Number(process.env.PARM_DEMO_STEPS ?? 40);
const PROMPTS = Number(process.env.PARM_DEMO_PROMPTS ?? 4);
const FILES = {
  helpful: join(DATA, "hh-rlhf", "helpful-base.test.jsonl.gz"),
  harmless: join(DATA, "hh-rlhf", "harmless-base.test.jsonl.gz"),
  model: join(DATA, "tinyllamas-stories260k", "tinyllamas-stories-260k-f32.gguf"),
};

const say = (line: string) => process.stdout.write(`${line}\n`);

interface Platform {
  url: string;
  adminKey: string;
  child: ChildProcess;
}

/** Starts main.ts on a fresh data folder; resolves once it listens, with its URL and the printed admin key. */
async function startPlatform(): Promise<Platform> {
  const dataDir = process.env.PARM_DATA_DIR ?? mkdtempSync(join(tmpdir(), "parm-demo-"));
  const env: NodeJS.ProcessEnv = { ...process.env, PARM_DATA_DIR: dataDir, PORT: process.env.PORT ?? "0", HOST: "127.0.0.1" };
  delete env.PARM_ADMIN_KEY;
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/api/main.ts"], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const deadline = Date.now() + 180_000;
  for (;;) {
    const ready = err.split("\n").find((l) => l.includes('"parm api ready"'));
    const key = /^\s+(parm_admin_\S+)\s*$/m.exec(out)?.[1];
    if (ready && key) return { url: (JSON.parse(ready) as { url: string }).url, adminKey: key, child };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the platform did not start:\n${err}\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function client(url: string, key: string) {
  return async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

/** The payload's value, or an error naming the union member that came back instead. */
function expectSuccess<T extends { __typename: string }>(payload: T, typename: string): T {
  if (payload.__typename !== typename) throw new Error(`${typename} expected, got ${JSON.stringify(payload)}`);
  return payload;
}

async function streamUpload(url: string, key: string, path: string, file: string): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-length": String(statSync(file).size) },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: "half",
  } as RequestInit);
  const body = (await res.json()) as any;
  if (res.status !== 201) throw new Error(`upload ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Polls a job until it is terminal, printing its status and progress (every 10 %); throws unless it SUCCEEDED. */
async function waitForJob(gql: ReturnType<typeof client>, jobId: string, what: string): Promise<void> {
  let shown = { status: "", decile: -1 };
  for (;;) {
    const { node } = await gql(`query($id: ID!) { node(id: $id) { ... on Job { status progress progressDetail error } } }`, { id: jobId });
    const detail = node.progressDetail as { etaSeconds?: number } | null;
    const decile = Math.floor(node.progress / 10);
    if (node.status !== shown.status || decile !== shown.decile) {
      const eta = node.status === "RUNNING" && detail?.etaSeconds !== undefined ? `, ETA ${detail.etaSeconds.toFixed(0)} s` : "";
      say(`  ${what}: ${node.status} ${node.progress.toFixed(0)} %${eta}`);
      shown = { status: node.status, decile };
    }
    if (node.status === "SUCCEEDED") return;
    if (node.status === "FAILED" || node.status === "CANCELLED") throw new Error(`${what} ${node.status}: ${node.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runMainJob(platform: Platform): Promise<void> {
  const admin = client(platform.url, platform.adminKey);
  const tenant = expectSuccess((await admin(`mutation { createTenant(input: { name: "demo" }) { __typename ... on CreateTenantSuccess { secret } ... on Error { message } } }`)).createTenant, "CreateTenantSuccess");
  const key = tenant.secret as string;
  const gql = client(platform.url, key);
  say(`tenant "demo" created; its key works as Authorization: Bearer ${key.slice(0, 12)}…`);

  const dims: Record<string, string> = {};
  for (const name of ["helpful", "harmless"]) {
    dims[name] = expectSuccess((await gql(`mutation($n: String!) { createDimension(input: { name: $n }) { __typename ... on CreateDimensionSuccess { dimension { id } } ... on Error { message } } }`, { n: name })).createDimension, "CreateDimensionSuccess").dimension.id;
  }
  const datasets: Record<string, string> = {};
  for (const name of ["helpful", "harmless"] as const) {
    const created = expectSuccess((await gql(`mutation($input: CreateDatasetInput!) { createDataset(input: $input) { __typename ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`, {
      input: { name: `hh-${name}`, format: "HH_RLHF", labels: [{ label: "preferred", dimensionId: dims[name] }], splitRatios: { train: 0.8, validation: 0.1, test: 0.1 } },
    })).createDataset, "CreateDatasetSuccess");
    datasets[name] = created.dataset.id;
    const uploaded = await streamUpload(platform.url, key, `/v1/datasets/${encodeURIComponent(created.dataset.id)}/records`, FILES[name]);
    say(`dataset hh-${name}: ${uploaded.dataset.recordCount} pairs accepted, ${uploaded.report.rejected} lines rejected (with line numbers in the report)`);
  }
  const model = (await streamUpload(platform.url, key, `/v1/models?name=stories260k&kind=BASE&fileName=stories260k.gguf`, FILES.model)).model;
  say(`model stories260k: ${model.format}, vocabulary ${model.vocabSize}, context ${model.config["llama.context_length"]} tokens`);

  const training = expectSuccess((await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`, {
    input: { adapterName: "parm-demo", method: "PARM", baseModelId: model.id, dimensions: [{ dimensionId: dims.helpful, datasetId: datasets.helpful }, { dimensionId: dims.harmless, datasetId: datasets.harmless }], maxSteps: STEPS, maxLength: 256, learningRate: 2e-3, warmupSteps: 2, batchSize: 4, gradAccum: 1 },
  })).startTraining, "StartTrainingSuccess");
  await waitForJob(gql, training.job.id, `training PARM (${STEPS} updates)`);
  const adapter = (await gql(`{ adapters(first: 5) { edges { node { id name dimensionNames } } } }`)).adapters.edges.map((e: any) => e.node).find((a: any) => a.name === "parm-demo");
  say(`adapter parm-demo over (${adapter.dimensionNames.join(", ")})`);

  const alphas = [[1, 0], [0.5, 0.5], [0, 1]];
  const generation = expectSuccess((await gql(`mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`, {
    input: { baseModelId: model.id, adapterId: adapter.id, prompt: "\n\nHuman: Tell me a story about a kind dog.\n\nAssistant:", alphas, maxTokens: 32, sampling: { stop: ["\n\nHuman:"] } },
  })).generate, "GenerateSuccess");
  await waitForJob(gql, generation.generation.jobId, "generation for 3 preference vectors");
  const outputs = (await gql(`query($id: ID!) { node(id: $id) { ... on Generation { outputs { alpha text } } } }`, { id: generation.generation.id })).node.outputs;
  for (const o of outputs) say(`  α = (${o.alpha.join(", ")}): ${JSON.stringify(o.text.trim().slice(0, 120))}`);

  const evaluators: string[] = [];
  for (const name of ["helpful", "harmless"] as const) {
    const job = expectSuccess((await gql(`mutation($input: TrainEvaluatorInput!) { trainEvaluator(input: $input) { __typename ... on TrainEvaluatorSuccess { job { id } } ... on Error { message } } }`, {
      input: { evaluatorName: `${name}-rm`, dimensionId: dims[name], baseModelId: model.id, datasetId: datasets[name], pooling: "MEAN", maxLength: 256, learningRate: 1e-3 },
    })).trainEvaluator, "TrainEvaluatorSuccess");
    await waitForJob(gql, job.job.id, `evaluator ${name}-rm`);
  }
  const models = (await gql(`{ models(first: 10, kind: EVALUATOR) { edges { node { id name } } } }`)).models.edges.map((e: any) => e.node);
  for (const name of ["helpful-rm", "harmless-rm"]) evaluators.push(models.find((m: any) => m.name === name).id);

  const evaluation = expectSuccess((await gql(`mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) { __typename ... on StartEvaluationSuccess { evaluation { id jobId } } ... on Error { message } } }`, {
    input: { adapterId: adapter.id, baseModelId: model.id, datasetId: datasets.helpful, split: "TEST", promptCount: PROMPTS, gridStep: 0.5, evaluatorIds: evaluators, maxTokens: 24 },
  })).startEvaluation, "StartEvaluationSuccess");
  await waitForJob(gql, evaluation.evaluation.jobId, `Pareto evaluation (3 points × ${PROMPTS} prompts)`);
  const result = (await gql(`query($id: ID!) { node(id: $id) { ... on Evaluation { hypervolume mip points { alpha rewards onFront } } } }`, { id: evaluation.evaluation.id })).node;
  for (const p of result.points) say(`  α = (${p.alpha.join(", ")}): rewards (${p.rewards.map((r: number) => r.toFixed(3)).join(", ")})${p.onFront ? " on the front" : ""}`);
  say(`hypervolume ${result.hypervolume?.toFixed(4)}, MIP ${result.mip?.toFixed(4)}`);
}

async function main(): Promise<number> {
  for (const file of Object.values(FILES)) {
    if (!existsSync(file)) {
      say(`missing ${file}: set PARM_DEMO_DATA to a folder with hh-rlhf/ and tinyllamas-stories260k/ (see README)`);
      return 1;
    }
  }
  say("starting the platform (embedded PostgreSQL, local nats-server or in-process bus, one runner)…");
  const platform = await startPlatform();
  say(`platform ready at ${platform.url} (GraphQL at ${platform.url}/graphql)`);
  let code = 0;
  try {
    await runMainJob(platform);
    say("the main job succeeded: trained, generated, evaluated");
  } catch (error) {
    say(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    code = 1;
  } finally {
    platform.child.kill("SIGTERM");
    await new Promise((r) => platform.child.once("exit", r));
  }
  return code;
}

process.exitCode = await main();
