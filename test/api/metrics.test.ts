/**
 * `/metrics` after real work: a real api server, PostgreSQL, nats-server, event ingest feeding the job metrics and an
 * in-process runner on stories260K. A PARM and a GenARM adapter are trained (PKU-SafeRLHF 16 records, 2 optimizer
 * steps each), then one unguided, two PARM (one of them an α-batch of two) and one GenARM generation run. The scrape
 * must show TTFT and time per output token observations per method matching the generations, tokens matching their
 * outputs, job wait and run observations matching the jobs, jobs by kind and status, empty queues, the runner and its
 * slots, no redeliveries or dead letters, and no tenant id. The bearer token: 401 without or with a wrong one, 200
 * with it. Then the api's metrics and ingest are restarted with tenant labels on, and one more generation's series
 * name its tenant. Last, with the runner stopped, a job started three times and never finished (the test acts as a
 * runner that dies) counts two redeliveries and one dead letter.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateAdminKey } from "../../src/api/auth/index.ts";
import { objectStoreSnapshotWriter, startIngest, type Ingest } from "../../src/api/ingest/index.ts";
import { runnersServiceFactory } from "../../src/api/ingest/runners-resolver.ts";
import { createApiMetrics } from "../../src/api/plugins/metrics/index.ts";
import { createApiPubSub } from "../../src/api/pubsub/index.ts";
import { createApiServer, silentLogger, type ApiServer } from "../../src/api/server/index.ts";
import { localArtifactServiceFactory } from "../../src/api/services/context.ts";
import { ModelRoots } from "../../src/api/services/model-roots.ts";
import { connectJetStreamBus, type JobBus } from "../../src/bus/index.ts";
import { runnerNatsNames, type Runner } from "../../src/gpu-runner/runner/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { postGraphQL } from "../helpers/graphql.ts";
import { SHARED_DATA, STORIES_GGUF_PATH } from "../runner/fixtures.ts";
import { openHarness, waitFor, type Harness } from "../runner/harness.ts";

const PKU_PATH = new URL("pku-saferlhf/alpaca-7b.test.head16.jsonl", SHARED_DATA);
const METRICS_TOKEN = "scrape-token-0123456789";
type Method = "unguided" | "parm" | "genarm";

/** One sample of the exposition text: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined when none). */
function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

describe("/metrics after a training and generations through the api and a runner", () => {
  let h: Harness;
  let testDb: TestDatabase;
  let bus: JobBus;
  let server: ApiServer;
  let ingest: Ingest;
  let runner: Runner;
  let dataDir: string;
  let adminKey: string;
  let key: string;
  let tenantId: string;
  const ids: { model?: string; dims: string[]; dataset?: string; adapters: Record<string, string> } = { dims: [], adapters: {} };
  /** Output token counts of each generation, by method. */
  const generations: { method: Method; tokenCounts: number[] }[] = [];
  const TRAININGS = 2;

  const gql = async (query: string, variables: Record<string, unknown> = {}, as = key) => {
    const res = await postGraphQL<any>(server.graphqlUrl, query, variables, { key: as });
    if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors ?? res.body)}`);
    return res.data;
  };
  const waitJob = (jobId: string, ms = 90_000) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const { node } = await gql(`query($id: ID!) { node(id: $id) { ... on Job { status error } } }`, { id: jobId });
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(node.status) ? node : null;
    }, ms);
  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${METRICS_TOKEN}` }) => fetch(`${server.url}/metrics`, { headers });
  const samples = async () => {
    const res = await scrape();
    assert.equal(res.status, 200);
    return parseExposition(await res.text());
  };

  /** Starts metrics, ingest (resuming after the last ingested event) and a server on the shared database and bus. */
  async function startApi(tenantLabels: boolean) {
    const pubSub = createApiPubSub();
    const metrics = createApiMetrics({ defaultMetrics: false, tenantLabels });
    ingest = await startIngest({ db: testDb.db, bus, pubSub, log: silentLogger, cancelPollMs: 200, metrics: metrics.jobs });
    const artifacts = bus.artifacts;
    server = await createApiServer({
      db: testDb.db,
      bus,
      adminKey,
      pubSub,
      log: silentLogger,
      metrics,
      metricsToken: METRICS_TOKEN,
      serviceFactories: [
        localArtifactServiceFactory(dataDir),
        runnersServiceFactory,
        () => ({ datasetSnapshots: objectStoreSnapshotWriter(artifacts, runnerNatsNames(h.namespace).artifactsStore) }),
        () => ({ modelRoots: new ModelRoots({ roots: [fileURLToPath(SHARED_DATA)], excluded: [dataDir, h.cacheRoot] }) }),
      ],
    });
  }

  async function generate(input: Record<string, unknown>, method: Method) {
    const r = await gql(
      `mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`,
      { input: { baseModelId: ids.model, prompt: "Once upon a time", ...input } },
    );
    assert.equal(r.generate.__typename, "GenerateSuccess", JSON.stringify(r));
    const { id, jobId } = r.generate.generation;
    assert.equal((await waitJob(jobId)).status, "SUCCEEDED");
    const { node } = await gql(`query($id: ID!) { node(id: $id) { ... on Generation { outputs { tokenCount } } } }`, { id });
    generations.push({ method, tokenCounts: node.outputs.map((o: { tokenCount: number }) => o.tokenCount) });
  }

  before(async () => {
    h = await openHarness();
    testDb = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), "parm-metrics-"));
    bus = await connectJetStreamBus(h.url, { namespace: h.namespace, settings: { ackWaitMs: 2000, maxDeliver: 3 } });
    adminKey = generateAdminKey();
    await startApi(false);
    runner = await h.startRunner();
    const t = await gql(
      `mutation($input: CreateTenantInput!) { createTenant(input: $input) { ... on CreateTenantSuccess { secret tenant { id } } ... on Error { message } } }`,
      { input: { name: "metrics", maxConcurrentJobs: 20 } },
      adminKey,
    );
    key = t.createTenant.secret;
    assert.ok(key, JSON.stringify(t));
    tenantId = Buffer.from(t.createTenant.tenant.id, "base64").toString("utf8").split(":")[1]!;
    await prepareTraining();
    await trainAdapter("PARM", "parm-hh");
    await trainAdapter("GENARM", "genarm-hh");
    await generate({ adapterId: null, alphas: [[]], maxTokens: 6 }, "unguided");
    await generate({ adapterId: ids.adapters["parm-hh"], alphas: [[0.5, 0.5]], maxTokens: 6 }, "parm");
    await generate({ adapterId: ids.adapters["parm-hh"], alphas: [[1, 0], [0, 1]], maxTokens: 8 }, "parm");
    await generate({ adapterId: ids.adapters["genarm-hh"], alphas: [[0.3, 0.7]], maxTokens: 5 }, "genarm");
  });
  after(async () => {
    await runner?.stop();
    await ingest?.stop();
    await server?.stop();
    await bus?.close();
    await testDb?.drop();
    await h?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Two dimensions, stories260K and PKU-SafeRLHF (16 records). */
  async function prepareTraining() {
    const dims = ids.dims;
    for (const name of ["harmless", "helpful"]) {
      const d = await gql(`mutation($n: String!) { createDimension(input: { name: $n, betaR: 0.1 }) { ... on CreateDimensionSuccess { dimension { id } } ... on Error { message } } }`, { n: name });
      dims.push(d.createDimension.dimension.id);
    }
    const m = await gql(
      `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`,
      { input: { name: "stories260k", kind: "BASE", location: STORIES_GGUF_PATH } },
    );
    ids.model = m.registerModel.model.id;
    const ds = await gql(
      `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ... on Error { message } } }`,
      {
        input: {
          name: "pku16", format: "PKU_SAFERLHF", splitRatios: { train: 0.75, validation: 0.25, test: 0 },
          labels: [{ label: "safer", dimensionId: dims[0] }, { label: "better", dimensionId: dims[1] }],
        },
      },
    );
    const datasetId = (ids.dataset = ds.createDataset.dataset.id);
    const up = await gql(
      `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { status } } ... on Error { message } } }`,
      { input: { datasetId, contentBase64: readFileSync(PKU_PATH).toString("base64") } },
    );
    assert.equal(up.uploadDataset.dataset?.status, "READY", JSON.stringify(up));
  }

  /** A 2-step training of `method` on the two dimensions. */
  async function trainAdapter(method: "PARM" | "GENARM", adapterName: string) {
    const r = await gql(
      `mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ... on Error { message } } }`,
      {
        input: {
          adapterName, method, baseModelId: ids.model,
          dimensions: ids.dims.map((dimensionId) => ({ dimensionId, datasetId: ids.dataset })),
          r1: 2, r2: 2, loraAlpha: 4, targets: ["q_proj", "v_proj"], learningRate: 5e-3, epochs: 1, batchSize: 2, warmupSteps: 0,
          maxPromptLength: 24, maxLength: 48, checkpointEvery: 0, maxSteps: 2,
        },
      },
    );
    assert.equal(r.startTraining.__typename, "StartTrainingSuccess", JSON.stringify(r));
    assert.equal((await waitJob(r.startTraining.job.id)).status, "SUCCEEDED");
    const adapters = await gql(`{ adapters(first: 5) { edges { node { id name } } } }`);
    ids.adapters[adapterName] = adapters.adapters.edges.find((e: any) => e.node.name === adapterName).node.id;
  }

  it("the bearer token guards /metrics: 401 without it or with a wrong one, 200 with it", async () => {
    const missing = await scrape({});
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer realm="metrics"/);
    const body = (await missing.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(body.errors[0]?.extensions.code, "UNAUTHENTICATED");
    assert.equal((await scrape({ authorization: `Bearer ${METRICS_TOKEN}x` })).status, 401);
    assert.equal((await scrape({ authorization: `Bearer ${key}` })).status, 401, "a tenant key is not the metrics token");
    assert.equal((await scrape({ authorization: METRICS_TOKEN })).status, 401, "the Bearer scheme is required");
    const ok = await scrape();
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /text\/plain/);
  });

  it("TTFT and time per output token: one observation per successful generation, by method; tokens match the outputs", async () => {
    const s = await samples();
    for (const method of ["unguided", "parm", "genarm"] as const) {
      const runs = generations.filter((g) => g.method === method);
      assert.equal(sample(s, "gen_ai_server_time_to_first_token_seconds_count", { method }), runs.length, method);
      const ttftSum = sample(s, "gen_ai_server_time_to_first_token_seconds_sum", { method })!;
      assert.ok(ttftSum > 0 && ttftSum < 90 * runs.length, `${method} TTFT sum ${ttftSum}`);
      assert.equal(sample(s, "gen_ai_server_time_to_first_token_seconds_bucket", { method, le: "+Inf" }), runs.length);
      const streams = runs.filter((g) => Math.max(...g.tokenCounts) >= 2).length;
      assert.ok(streams > 0, "each generation made at least two tokens");
      assert.equal(sample(s, "gen_ai_server_time_per_output_token_seconds_count", { method }), streams);
      const tpotSum = sample(s, "gen_ai_server_time_per_output_token_seconds_sum", { method })!;
      assert.ok(tpotSum > 0 && tpotSum < ttftSum + 90, `${method} TPOT sum ${tpotSum}`);
      const tokens = runs.flatMap((g) => g.tokenCounts).reduce((a, b) => a + b, 0);
      assert.equal(sample(s, "parm_generation_tokens_total", { method }), tokens, `${method} tokens`);
    }
  });

  it("job wait and run time per kind, jobs by kind and status, queues, runners, no redeliveries or dead letters", async () => {
    const s = await samples();
    assert.equal(sample(s, "parm_job_wait_seconds_count", { kind: "generate" }), generations.length);
    assert.equal(sample(s, "parm_job_wait_seconds_count", { kind: "train" }), TRAININGS);
    assert.ok(sample(s, "parm_job_wait_seconds_sum", { kind: "train" })! > 0);
    assert.equal(sample(s, "parm_job_run_seconds_count", { kind: "generate", status: "SUCCEEDED" }), generations.length);
    assert.equal(sample(s, "parm_job_run_seconds_count", { kind: "train", status: "SUCCEEDED" }), TRAININGS);
    const trainRun = sample(s, "parm_job_run_seconds_sum", { kind: "train", status: "SUCCEEDED" })!;
    assert.ok(trainRun > 0 && trainRun < 90 * TRAININGS, `train run ${trainRun}`);
    assert.equal(sample(s, "parm_jobs", { kind: "generate", status: "SUCCEEDED" }), generations.length);
    assert.equal(sample(s, "parm_jobs", { kind: "train", status: "SUCCEEDED" }), TRAININGS);
    assert.equal(sample(s, "parm_jobs", { kind: "generate", status: "QUEUED" }), undefined, "statuses without jobs have no series");
    for (const kind of ["train", "train-evaluator", "generate", "evaluate"]) {
      assert.equal(sample(s, "parm_jobs_pending", { kind }), 0, kind);
      assert.equal(sample(s, "parm_jobs_in_flight", { kind }), 0, kind);
      assert.equal(sample(s, "parm_jobs_redelivered_total", { kind }), 0, kind);
      assert.equal(sample(s, "parm_jobs_dead_lettered_total", { kind }), 0, kind);
    }
    assert.equal(sample(s, "parm_runners_online"), 1);
    assert.ok(sample(s, "parm_runner_slots")! >= 1);
    // Free slots are as of the runner's last heartbeat (every TTL/3 = 1 s here): the next one shows it idle.
    await waitFor("an idle runner's slots all free", async () => {
      const now = await samples();
      return sample(now, "parm_runner_free_slots") === sample(now, "parm_runner_slots");
    }, 10_000);
    assert.ok(!s.some((x) => "tenant" in x.labels || JSON.stringify(x.labels).includes(tenantId)), "no tenant id in any label");
  });

  it("with tenant labels on, the job metrics name the tenant", async () => {
    await ingest.stop();
    await server.stop();
    await startApi(true);
    await generate({ adapterId: ids.adapters["parm-hh"], alphas: [[0.25, 0.75]], maxTokens: 4 }, "parm");
    const s = await samples();
    assert.equal(sample(s, "gen_ai_server_time_to_first_token_seconds_count", { method: "parm", tenant: tenantId }), 1);
    const tokens = generations.at(-1)!.tokenCounts.reduce((a, b) => a + b, 0);
    assert.equal(sample(s, "parm_generation_tokens_total", { method: "parm", tenant: tenantId }), tokens);
    assert.equal(sample(s, "parm_job_wait_seconds_count", { kind: "generate", tenant: tenantId }), 1);
    assert.equal(sample(s, "parm_jobs", { kind: "generate", status: "SUCCEEDED", tenant: tenantId }), generations.length);
    assert.equal(sample(s, "parm_jobs_pending", { kind: "generate" }), 0);
    assert.ok(!s.some((x) => x.name === "parm_jobs_pending" && "tenant" in x.labels), "queues are per kind, never per tenant");
  });

  it("a job no runner finishes: later starts count as redeliveries, then it is dead-lettered and FAILED; runners online drop to 0", async () => {
    await runner.stop();
    await waitFor("no runner online", async () => sample(await samples(), "parm_runners_online") === 0, 15_000);
    const r = await gql(
      `mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { jobId } } ... on Error { message } } }`,
      { input: { baseModelId: ids.model, prompt: "Once upon a time", adapterId: null, alphas: [[]], maxTokens: 4 } },
    );
    assert.equal(r.generate.__typename, "GenerateSuccess", JSON.stringify(r));
    await waitFor("the job queued", async () => sample(await samples(), "parm_jobs_pending", { kind: "generate" }) === 1, 10_000);
    // A runner that starts the job and dies, three times (max_deliver 3): started with attempt = delivery count, no ack.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [delivery] = await h.bus.pullJobs("generate", { max: 1, expiresMs: 3000 });
      assert.ok(delivery, `delivery ${attempt}`);
      assert.equal(delivery.deliveryCount, attempt);
      await h.bus.publishEvent(delivery.envelope.jobId, { type: "started", runnerId: "vanishing-runner", attempt, device: "cpu", resumedFromStep: 0 });
      delivery.nak();
    }
    // JetStream dead-letters on its next attempt to deliver (a runner pulling); here the test pulls.
    assert.deepEqual(await h.bus.pullJobs("generate", { max: 1, expiresMs: 1000 }), []);
    assert.equal((await waitJob(r.generate.generation.jobId, 30_000)).status, "FAILED");
    const s = await waitFor("the dead letter counted", async () => {
      const now = await samples();
      return sample(now, "parm_job_run_seconds_count", { kind: "generate", status: "FAILED", tenant: tenantId }) === 1 ? now : null;
    }, 10_000);
    assert.equal(sample(s, "parm_jobs_dead_lettered_total", { kind: "generate", tenant: tenantId }), 1);
    assert.equal(sample(s, "parm_jobs_redelivered_total", { kind: "generate", tenant: tenantId }), 2, "attempts 2 and 3");
    assert.equal(sample(s, "parm_job_wait_seconds_count", { kind: "generate", tenant: tenantId }), 2, "one wait per job: to its first start");
    assert.equal(sample(s, "parm_jobs", { kind: "generate", status: "FAILED", tenant: tenantId }), 1);
    assert.equal(sample(s, "gen_ai_server_time_to_first_token_seconds_count", { method: "unguided", tenant: tenantId }), undefined, "no TTFT without a token");
    assert.equal(sample(s, "parm_jobs_pending", { kind: "generate" }), 0);
    assert.equal(sample(s, "parm_runner_slots"), 0);
  });
});
