/** @module bench/chaos
 * A bounded chaos run of the whole platform: a real PostgreSQL (embedded, under a temporary folder), a real
 * nats-server (JetStream, restartable on a fixed port), one api in this process (GraphQL server, ingest, reconciler,
 * dead letters and cancellation relay wired like src/api/main.ts) and 2 runner processes (`npm run runner`'s entry,
 * CPU, 1 thread each). Two tenants submit a mixed workload through GraphQL — stories260K, a 16-pair PKU-SafeRLHF
 * dataset:
 *   per tenant, once: 2 evaluator trainings (one per dimension);
 *   per tenant and round: 1 short PARM training (maxSteps), 1 longer training that the tenant cancels at a random
 *   moment, 2 unguided generations; once the round's training SUCCEEDED, 2 generations with its adapter and a
 *   3-point evaluation (gridStep 0.5, 1 prompt).
 * Rounds repeat while the chaos loop runs: `--kills` times, once both runners are up (heartbeat written), it waits a
 * random 1–8 s and SIGKILLs a random one of them, restarting it at once with a new runner id; after half the kills it
 * restarts nats-server once (SIGTERM, 2 s down). A runner that exits by itself (one started while nats-server is
 * down cannot connect and exits 1) is restarted after 1 s, as a process supervisor would.
 * Then it waits for every job to end and checks, from PostgreSQL and the streams:
 *   - every job is SUCCEEDED, FAILED or CANCELLED (none stuck QUEUED / RUNNING);
 *   - every job has exactly one terminal event (`completed` or `failed`) in job_events, and it agrees with the status;
 *   - no result lost: a SUCCEEDED generation has one output per α, a SUCCEEDED training one Adapter row whose
 *     artifact is in the object store with the recorded sha256, a SUCCEEDED evaluator training its EVALUATOR Model
 *     and artifact, a SUCCEEDED evaluation as many points as its grid; no adapter or evaluator from a job that did
 *     not succeed;
 *   - PostgreSQL holds every event of the EVENTS stream (none lost by ingestion), the job queues are empty.
 * It prints the counts (jobs by kind × status, kills, restarts, redeliveries, checkpoint resumes, dead letters,
 * ingestion lag, queue wait, runner busy share, durations) and the machine, and exits 1 when an invariant is broken
 * (2 on a harness error or the hard timeout, `--timeout` + 120 s). bench/README.md has measured figures.
 *
 * Usage: npm run bench:chaos -- [--kills 20] [--timeout 480] [--seed N] [--ack-wait-ms 5000] [--max-deliver 5]
 *                                [--heartbeat-ttl-ms 6000] [--keep-logs]
 * Logs (api, runners, nats-server, the chaos timeline) go to a temporary folder, kept when a check fails.
 */
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, closeSync, createWriteStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { openDatabaseFromEnvironment } from "../src/api/db/index.ts";
import { busArtifactServices, startIngest, type Ingest } from "../src/api/ingest/index.ts";
import { createApiPubSub } from "../src/api/pubsub/index.ts";
import { serviceFactories } from "../src/api/resolvers/index.ts";
import { createApiServer, createLogger, type ApiServer } from "../src/api/server/index.ts";
import { ModelRoots } from "../src/api/services/model-roots.ts";
import { busNames, connectJetStreamBus, findNatsServerBinary, type JobBus } from "../src/bus/index.ts";
import { JOB_KINDS, simplexGridPointCount } from "../src/contracts/index.ts";
import { mulberry32 } from "../src/gpu-runner/engine/onnx/random.ts";
import { freePort } from "./ports.ts";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHARED_DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const STORIES = join(SHARED_DATA, "tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf");
const PKU = join(SHARED_DATA, "pku-saferlhf/alpaca-7b.test.head16.jsonl");
const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"] as const;

const { values: args } = parseArgs({
  options: {
    kills: { type: "string", default: "20" },
    timeout: { type: "string", default: "480" },
    seed: { type: "string" },
    "ack-wait-ms": { type: "string", default: "5000" },
    "max-deliver": { type: "string", default: "5" },
    "heartbeat-ttl-ms": { type: "string", default: "6000" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const KILLS = Number(args.kills);
const TIMEOUT_MS = Number(args.timeout) * 1000;
const SEED = args.seed !== undefined ? Number(args.seed) : randomBytes(4).readUInt32LE(0);
const ACK_WAIT_MS = Number(args["ack-wait-ms"]);
const MAX_DELIVER = Number(args["max-deliver"]);
const HEARTBEAT_TTL_MS = Number(args["heartbeat-ttl-ms"]);
for (const [name, v] of Object.entries({ KILLS, TIMEOUT_MS, SEED, ACK_WAIT_MS, MAX_DELIVER, HEARTBEAT_TTL_MS })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`bench/chaos: ${name} must be a non-negative integer, got ${v}`);
}

// ---- small helpers -------------------------------------------------------------------------------------------------

/** The chaos schedule (gaps, victims, cancel delays) is reproducible from --seed. */
const random = mulberry32(SEED);
const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
const deadline = t0 + TIMEOUT_MS;
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1);
const globalId = (type: string, uuid: string) => Buffer.from(`${type}:${uuid}`, "utf8").toString("base64");
const uuidOf = (id: string) => Buffer.from(id, "base64").toString("utf8").split(":")[1]!;

const logDir = mkdtempSync(join(tmpdir(), "parm-chaos-"));
chmodSync(logDir, 0o755); // as root, the embedded PostgreSQL runs as the "postgres" user, which must reach its folder
const timelineLog = createWriteStream(join(logDir, "timeline.log"));
function note(message: string): void {
  timelineLog.write(`${new Date().toISOString()} +${elapsed()}s ${message}\n`);
}
function say(message: string): void {
  process.stdout.write(`[chaos +${elapsed()}s] ${message}\n`);
  note(message);
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });

/** Processes this bench started, and PostgreSQL's stop: a hard timeout ends them before exiting. */
const children = new Set<ChildProcess>();
let stopPostgres: (() => Promise<void>) | null = null;

// ---- nats-server on a fixed port and store, restartable ------------------------------------------------------------

interface Nats {
  readonly url: string;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}
async function startNats(): Promise<Nats> {
  const binary = findNatsServerBinary();
  if (!binary) throw new Error("bench/chaos needs an installed nats-server (apt-get install nats-server)");
  const port = await freePort();
  const storeDir = join(logDir, "nats-store");
  let child: ChildProcess | null = null;
  let incarnation = 0;
  const nats: Nats = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      const out = openSync(join(logDir, `nats-${++incarnation}.log`), "a");
      child = spawn(binary, ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", out, out] });
      const started = child;
      children.add(started);
      started.once("exit", () => children.delete(started));
      closeSync(out);
      const until = Date.now() + 15_000;
      while (!(await portOpen(port))) {
        if (Date.now() > until) throw new Error("nats-server did not start");
        await sleep(50);
      }
    },
    async stop(signal = "SIGTERM") {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill(signal);
      await exited;
    },
  };
  await nats.start();
  return nats;
}

// ---- runner processes ----------------------------------------------------------------------------------------------

interface RunnerSlot {
  readonly slot: number;
  incarnation: number;
  id: string;
  child: ChildProcess | null;
  /** A restart after the runner exited by itself (e.g. it could not reach nats-server at start). */
  restartTimer: NodeJS.Timeout | null;
}
const supervision = { selfExits: [] as string[], stopping: false };

/** Starts the slot's next runner process; like a process supervisor, restarts one that exits by itself after 1 s. */
function spawnRunner(natsUrl: string, slot: RunnerSlot): void {
  if (slot.restartTimer) clearTimeout(slot.restartTimer);
  slot.restartTimer = null;
  slot.incarnation += 1;
  slot.id = `chaos-r${slot.slot}-${slot.incarnation}`;
  const err = openSync(join(logDir, `runner-${slot.slot}.log`), "a");
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/gpu-runner/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      PARM_RUNNER_ID: slot.id,
      PARM_RUNNER_THREADS: "1",
      PARM_RUNNER_SLOTS: "1",
      PARM_EXECUTION_PROVIDER: "cpu",
      // One cache per slot, kept across restarts (a restarted runner on the same host).
      PARM_RUNNER_CACHE_DIR: join(logDir, `runner-cache-${slot.slot}`),
      PARM_ACK_WAIT_MS: String(ACK_WAIT_MS),
      PARM_MAX_DELIVER: String(MAX_DELIVER),
      PARM_HEARTBEAT_TTL_MS: String(HEARTBEAT_TTL_MS),
    },
    stdio: ["ignore", "ignore", err],
  });
  closeSync(err);
  children.add(child);
  child.once("exit", () => children.delete(child));
  slot.child = child;
  const id = slot.id;
  child.once("exit", (code, signal) => {
    if (signal === "SIGKILL" || supervision.stopping || slot.child !== child) return;
    supervision.selfExits.push(`${id} exited by itself (code ${code}, signal ${signal})`);
    say(`runner ${id} exited by itself (code ${code}, signal ${signal}); restarting in 1 s`);
    slot.restartTimer = setTimeout(() => spawnRunner(natsUrl, slot), 1000);
  });
}
async function killRunner(slot: RunnerSlot): Promise<void> {
  if (slot.restartTimer) clearTimeout(slot.restartTimer);
  slot.restartTimer = null;
  const c = slot.child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
}

// ---- GraphQL client ------------------------------------------------------------------------------------------------

interface Tenant {
  readonly name: string;
  readonly key: string;
  dims: string[];
  model: string;
  dataset: string;
  evaluatorJobs: string[];
}

let graphqlUrl = "";
const stats = { mutations: 0, rateLimited: 0, quotaWaits: 0, submitErrors: [] as string[], cancels: 0, cancelsTooLate: 0 };

async function gql<T = any>(key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string; retryAfter?: number } }[] };
    const code = body.errors?.[0]?.extensions?.code;
    if (code === "RATE_LIMITED" && attempt < 20) {
      stats.rateLimited += 1;
      await sleep(1000 * Math.max(1, body.errors![0].extensions!.retryAfter ?? 1));
      continue;
    }
    if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? body)}`);
    return body.data;
  }
}

/** Runs a start mutation whose payload union is `field`; waits and retries while the tenant's job quota is full. */
async function submit(t: Tenant, label: string, field: string, mutation: string, input: Record<string, unknown>, pick: (node: any) => string): Promise<string | null> {
  for (;;) {
    stats.mutations += 1;
    const data = await gql(t.key, mutation, { input });
    const result = data[field];
    if (result.__typename === "QuotaExceeded" && Date.now() < deadline) {
      stats.quotaWaits += 1;
      await sleep(2000);
      continue;
    }
    if (!result.__typename.endsWith("Success")) {
      stats.submitErrors.push(`${t.name} ${label}: ${result.__typename} ${result.message ?? ""}`);
      say(`submit refused: ${t.name} ${label}: ${result.__typename} ${result.message ?? ""}`);
      return null;
    }
    const jobId = pick(result);
    note(`submitted ${t.name} ${label} job ${uuidOf(jobId)}`);
    return jobId;
  }
}

const ERROR_FIELDS = "... on Error { message }";
const startTraining = (t: Tenant, name: string, extra: Record<string, unknown>) =>
  submit(
    t,
    `train ${name}`,
    "startTraining",
    `mutation($input: StartTrainingInput!) { startTraining(input: $input) { __typename ... on StartTrainingSuccess { job { id } } ${ERROR_FIELDS} } }`,
    {
      adapterName: name, method: "PARM", baseModelId: t.model,
      dimensions: t.dims.map((d) => ({ dimensionId: d, datasetId: t.dataset })),
      r1: 2, r2: 2, loraAlpha: 4, targets: ["q_proj", "v_proj"], learningRate: 5e-3, epochs: 2, batchSize: 2, warmupSteps: 0,
      maxPromptLength: 24, maxLength: 48, checkpointEvery: 2, maxSteps: 6, seed: 7,
      ...extra,
    },
    (r) => r.job.id,
  );
const trainEvaluator = (t: Tenant, i: number) =>
  submit(
    t,
    `train-evaluator ${i}`,
    "trainEvaluator",
    `mutation($input: TrainEvaluatorInput!) { trainEvaluator(input: $input) { __typename ... on TrainEvaluatorSuccess { job { id } } ${ERROR_FIELDS} } }`,
    { evaluatorName: `${t.name}-rm-${i}`, dimensionId: t.dims[i], baseModelId: t.model, datasetId: t.dataset, learningRate: 1e-3, epochs: 1, batchSize: 2, maxLength: 48 },
    (r) => r.job.id,
  );
const PROMPTS = ["Once upon a time", "The little dog", "One day, Lily", "Tom and his friend"];
const generate = (t: Tenant, adapterId: string | null, n: number) =>
  submit(
    t,
    adapterId ? "generate (adapter)" : "generate (unguided)",
    "generate",
    `mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { jobId } } ${ERROR_FIELDS} } }`,
    {
      baseModelId: t.model, adapterId, prompt: PROMPTS[n % PROMPTS.length],
      alphas: adapterId ? (n % 2 === 0 ? [[1, 0], [0, 1]] : [[0.5, 0.5]]) : [[]], maxTokens: 16,
    },
    (r) => r.generation.jobId,
  );
const startEvaluation = (t: Tenant, adapterId: string, evaluatorIds: string[]) =>
  submit(
    t,
    "evaluate",
    "startEvaluation",
    `mutation($input: StartEvaluationInput!) { startEvaluation(input: $input) { __typename ... on StartEvaluationSuccess { evaluation { jobId } } ${ERROR_FIELDS} } }`,
    { adapterId, baseModelId: t.model, datasetId: t.dataset, split: "TEST", promptCount: 1, evaluatorIds, gridStep: 0.5, maxTokens: 6 },
    (r) => r.evaluation.jobId,
  );

async function cancel(t: Tenant, jobId: string): Promise<void> {
  stats.mutations += 1;
  const data = await gql(t.key, `mutation($input: CancelJobInput!) { cancelJob(input: $input) { __typename ... on CancelJobSuccess { job { status } } ${ERROR_FIELDS} } }`, { input: { jobId } });
  if (data.cancelJob.__typename === "CancelJobSuccess") {
    stats.cancels += 1;
    note(`cancel ${t.name} job ${uuidOf(jobId)}: now ${data.cancelJob.job.status}`);
  } else {
    stats.cancelsTooLate += 1;
    note(`cancel ${t.name} job ${uuidOf(jobId)}: ${data.cancelJob.__typename}`);
  }
}

async function waitTerminal(t: Tenant, jobId: string): Promise<string> {
  while (Date.now() < deadline) {
    const data = await gql(t.key, `query($id: ID!) { node(id: $id) { ... on Job { status } } }`, { id: jobId });
    const status = data.node.status as string;
    if ((TERMINAL as readonly string[]).includes(status)) return status;
    await sleep(1000);
  }
  return "TIMEOUT";
}

/** The runners' heartbeats, or [] when reading them fails or takes longer than `ms` (counted): a listing that does
 *  not answer while nats-server restarts must not stall the chaos loop. */
const listRunnerStats = { timeouts: 0, errors: 0 };
async function listRunnersWithin(ingest: Ingest, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  const result = await Promise.race([ingest.listRunners().catch(() => "error" as const), timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    listRunnerStats.timeouts += 1;
    note(`listRunners did not answer within ${ms} ms`);
    return [];
  }
  if (result === "error") {
    listRunnerStats.errors += 1;
    return [];
  }
  note(`listRunners: ${Date.now() - started} ms`);
  return result;
}

// ---- the run -------------------------------------------------------------------------------------------------------

interface Violation {
  readonly what: string;
  readonly detail: string;
}

async function main(): Promise<number> {
  const machine = `${cpus()[0]?.model ?? "cpu"} (${cpus().length} cores), node ${process.version}`;
  const loadStart = loadavg();
  say(`machine: ${machine}; load average ${loadStart.map((l) => l.toFixed(2)).join(" ")}; seed ${SEED}; logs in ${logDir}`);
  say(`settings: kills ${KILLS}, timeout ${TIMEOUT_MS / 1000} s, ack_wait ${ACK_WAIT_MS} ms, max_deliver ${MAX_DELIVER}, heartbeat TTL ${HEARTBEAT_TTL_MS} ms`);
  const stops: (() => Promise<unknown>)[] = [];
  const slots: RunnerSlot[] = [0, 1].map((slot) => ({ slot, incarnation: 0, id: "", child: null, restartTimer: null }));
  let failed = false;
  try {
    // -- services
    const nats = await startNats();
    stops.push(() => nats.stop("SIGTERM"));
    const apiDir = join(logDir, "api");
    mkdirSync(apiDir, { recursive: true });
    process.env.PARM_DATA_DIR = apiDir; // the registered local stores (domainServiceFactory) live here
    const apiLogStream = createWriteStream(join(logDir, "api.log"));
    const log = createLogger("info", (line) => apiLogStream.write(line + "\n"));
    const db = await openDatabaseFromEnvironment({ PARM_DATA_DIR: apiDir, PARM_TEST: "1" }, log);
    stopPostgres = () => db.close();
    stops.push(() => db.close());
    const bus: JobBus = await connectJetStreamBus(nats.url, { settings: { ackWaitMs: ACK_WAIT_MS, maxDeliver: MAX_DELIVER, heartbeatTtlMs: HEARTBEAT_TTL_MS }, log: { info: (m) => log.info(m), warn: (m) => log.warn(m) }, connectionName: "parm-api" });
    stops.push(() => bus.close());
    const pubSub = createApiPubSub();
    const ingest: Ingest = await startIngest({ db, bus, pubSub, log, heartbeatTtlMs: HEARTBEAT_TTL_MS });
    stops.push(() => ingest.stop());
    const adminKey = `pk_admin_${randomBytes(16).toString("hex")}`;
    const server: ApiServer = await createApiServer({
      db,
      bus,
      pubSub,
      adminKey,
      log,
      defaultMetrics: false,
      serviceFactories: [
        ...serviceFactories,
        // Dataset snapshots and model files go to the bus's object store, where the runners read them (as in main.ts).
        ({ bus: serverBus }) => busArtifactServices(serverBus.artifacts),
        () => ({ modelRoots: new ModelRoots({ roots: [SHARED_DATA], excluded: [logDir] }) }),
      ],
    });
    stops.push(() => server.stop());
    graphqlUrl = server.graphqlUrl;
    for (const slot of slots) spawnRunner(nats.url, slot);
    stops.push(async () => {
      supervision.stopping = true;
      for (const slot of slots) await killRunner(slot);
    });
    say(`api at ${server.graphqlUrl}, nats-server at ${nats.url}, 2 runners starting`);

    // -- tenants, dimensions, model, dataset (before the chaos)
    const tenants: Tenant[] = [];
    const pku = readFileSync(PKU).toString("base64");
    for (const name of ["chaos-a", "chaos-b"]) {
      const created = await gql(adminKey, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { __typename ... on CreateTenantSuccess { secret } ${ERROR_FIELDS} } }`, { input: { name, maxConcurrentJobs: 50 } });
      const t: Tenant = { name, key: created.createTenant.secret, dims: [], model: "", dataset: "", evaluatorJobs: [] };
      if (!t.key) throw new Error(`createTenant: ${JSON.stringify(created)}`);
      for (const dim of ["harmless", "helpful"]) {
        const d = await gql(t.key, `mutation($n: String!) { createDimension(input: { name: $n, betaR: 0.1 }) { ... on CreateDimensionSuccess { dimension { id } } ${ERROR_FIELDS} } }`, { n: dim });
        t.dims.push(d.createDimension.dimension.id);
      }
      const m = await gql(t.key, `mutation($input: RegisterModelInput!) { registerModel(input: $input) { ... on RegisterModelSuccess { model { id } } ${ERROR_FIELDS} } }`, { input: { name: "stories260k", kind: "BASE", location: STORIES } });
      if (!m.registerModel.model) throw new Error(`registerModel: ${JSON.stringify(m)}`);
      t.model = m.registerModel.model.id;
      const ds = await gql(t.key, `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { ... on CreateDatasetSuccess { dataset { id } } ${ERROR_FIELDS} } }`, {
        input: { name: "pku16", format: "PKU_SAFERLHF", splitRatios: { train: 0.5, validation: 0.25, test: 0.25 }, labels: [{ label: "safer", dimensionId: t.dims[0] }, { label: "better", dimensionId: t.dims[1] }] },
      });
      t.dataset = ds.createDataset.dataset.id;
      const up = await gql(t.key, `mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { ... on UploadDatasetSuccess { dataset { status splitCounts { train validation test } } } ${ERROR_FIELDS} } }`, { input: { datasetId: t.dataset, contentBase64: pku } });
      if (up.uploadDataset.dataset?.status !== "READY") throw new Error(`uploadDataset: ${JSON.stringify(up)}`);
      tenants.push(t);
      say(`tenant ${name}: dataset READY, splits ${JSON.stringify(up.uploadDataset.dataset.splitCounts)}`);
    }

    // -- chaos loop
    let chaosDone = false;
    const chaos = { kills: 0, killsOfBusyRunners: 0, runnerRestarts: 0, natsRestarts: 0, natsDownMs: 0, natsAtS: 0, started: Date.now(), ended: 0 };
    const chaosBudgetMs = 0.6 * TIMEOUT_MS;
    const natsRestartAfterKill = Math.max(1, Math.floor(KILLS / 2));
    const alive = (x: RunnerSlot) => x.child !== null && x.child.exitCode === null && x.child.signalCode === null;
    /** Waits until every slot's current runner wrote a heartbeat (it is pulling jobs), at most `ms`. */
    const runnersUp = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const ids = new Set((await listRunnersWithin(ingest, 3000)).map((r) => r.runnerId));
        if (slots.every((x) => ids.has(x.id))) return true;
        await sleep(250);
      }
      return false;
    };
    const restartNats = async () => {
      const down = Date.now();
      chaos.natsAtS = (down - t0) / 1000;
      await nats.stop("SIGTERM");
      await sleep(2000);
      await nats.start();
      chaos.natsRestarts += 1;
      chaos.natsDownMs = Date.now() - down;
      say(`nats-server restarted (down ${(chaos.natsDownMs / 1000).toFixed(1)} s)`);
    };
    const chaosLoop = (async () => {
      // Each kill comes at a random moment 1–8 s after both runners are up (pulling jobs), so it lands on work.
      for (let k = 1; k <= KILLS && Date.now() < t0 + chaosBudgetMs; k++) {
        await runnersUp(30_000);
        await sleep(uniform(1000, 8000));
        let slot = slots[random() < 0.5 ? 0 : 1];
        if (!alive(slot)) slot = slots[1 - slot.slot]; // the other one, when this one is being restarted after exiting by itself
        const beat = await listRunnersWithin(ingest, 3000);
        const running = beat.find((r) => r.runnerId === slot.id)?.runningJobIds ?? [];
        const victim = slot.id;
        await killRunner(slot);
        chaos.kills += 1;
        if (running.length > 0) chaos.killsOfBusyRunners += 1;
        spawnRunner(nats.url, slot);
        chaos.runnerRestarts += 1;
        say(`kill ${k}/${KILLS}: SIGKILL ${victim}${running.length ? ` running ${running.map((j) => j.slice(0, 8)).join(",")}` : " (idle)"}; restarted as ${slot.id}`);
        if (k === natsRestartAfterKill) {
          await sleep(uniform(500, 4000));
          await restartNats();
        }
      }
      if (KILLS === 0) {
        // No kills: still restart nats-server once, so the run exercises the outage path.
        await runnersUp(30_000);
        await sleep(uniform(1000, 8000));
        await restartNats();
      }
      chaos.ended = Date.now();
      chaosDone = true;
      say(`chaos done: ${chaos.kills} kills, ${chaos.natsRestarts} nats-server restart`);
    })();

    // -- workload: two tenants, rounds while the chaos lasts
    const tenantLoop = async (t: Tenant, index: number) => {
      await sleep(index * 1500);
      for (const i of [0, 1]) {
        const id = await trainEvaluator(t, i);
        if (id) t.evaluatorJobs.push(id);
      }
      let evaluatorIds: string[] | null = null;
      for (let round = 1; Date.now() < deadline - 60_000; round++) {
        const roundJobs: string[] = [];
        const add = (id: string | null) => {
          if (id) roundJobs.push(id);
          return id;
        };
        const train = add(await startTraining(t, `${t.name}-r${round}`, {}));
        const target = add(await startTraining(t, `${t.name}-r${round}-cancelled`, { epochs: 400, maxSteps: 2000, checkpointEvery: 20 }));
        add(await generate(t, null, round));
        add(await generate(t, null, round + 1));
        const cancelling = target
          ? (async () => {
              await sleep(uniform(1000, 12_000));
              await cancel(t, target);
            })()
          : Promise.resolve();
        if (train && (await waitTerminal(t, train)) === "SUCCEEDED") {
          const adapter = await db.system.adapter.findFirst({ where: { jobId: uuidOf(train) }, select: { id: true } });
          if (adapter) {
            const adapterId = globalId("Adapter", adapter.id);
            add(await generate(t, adapterId, round));
            add(await generate(t, adapterId, round + 1));
            if (evaluatorIds === null) {
              const statuses = await Promise.all(t.evaluatorJobs.map((j) => waitTerminal(t, j)));
              evaluatorIds = [];
              if (statuses.length === 2 && statuses.every((s) => s === "SUCCEEDED")) {
                for (const j of t.evaluatorJobs) {
                  const m = await db.system.model.findFirst({ where: { jobId: uuidOf(j) }, select: { id: true } });
                  if (m) evaluatorIds.push(globalId("Model", m.id));
                }
              }
            }
            if (evaluatorIds.length === 2) add(await startEvaluation(t, adapterId, evaluatorIds));
          }
        }
        await cancelling;
        await Promise.all(roundJobs.map((j) => waitTerminal(t, j)));
        note(`${t.name}: round ${round} ended`);
        if (chaosDone) break;
      }
    };
    await Promise.all(tenants.map((t, i) => tenantLoop(t, i)));
    await chaosLoop;

    // -- drain: every job terminal, ingestion caught up, queues empty
    const drainStart = Date.now();
    let open: { id: string; kind: string; status: string }[] = [];
    for (;;) {
      open = await db.system.job.findMany({ where: { status: { in: ["QUEUED", "RUNNING"] } }, select: { id: true, kind: true, status: true } });
      if (open.length === 0 || Date.now() > deadline) break;
      await sleep(1000);
    }
    const jsNc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(jsNc);
    const names = busNames("");
    const eventsLast = async () => (await jsm.streams.info(names.eventsStream)).state.last_seq;
    const ingestWait = Date.now() + 20_000;
    while (ingest.lastSeq() < (await eventsLast()) && Date.now() < ingestWait) await sleep(250);
    const depthWait = Date.now() + 20_000;
    let depths: Record<string, { pending: number; inFlight: number }> = {};
    for (;;) {
      depths = {};
      for (const kind of JOB_KINDS) depths[kind] = await bus.queueDepth(kind);
      if (Object.values(depths).every((d) => d.pending === 0 && d.inFlight === 0) || Date.now() > depthWait) break;
      await sleep(500);
    }
    const drainMs = Date.now() - drainStart;
    const totalMs = Date.now() - t0;

    // -- checks
    const violations: Violation[] = [];
    const violate = (what: string, detail: string) => violations.push({ what, detail });
    for (const j of open) violate("stuck", `job ${j.id} (${j.kind}) is ${j.status} at the end`);
    const jobs = await db.system.job.findMany({ orderBy: { createdAt: "asc" } });
    const events = await db.system.jobEvent.findMany({ select: { jobId: true, seq: true, type: true, payload: true, createdAt: true } });
    const ingestedAt = new Map(events.map((e) => [Number(e.seq), e.createdAt.getTime()]));
    const byJob = new Map<string, { type: string; payload: any; seq: bigint }[]>();
    for (const e of events) {
      const list = byJob.get(e.jobId) ?? [];
      list.push(e);
      byJob.set(e.jobId, list);
    }
    const adapters = await db.system.adapter.findMany();
    const evaluatorModels = await db.system.model.findMany({ where: { kind: "EVALUATOR" } });
    const generations = await db.system.generation.findMany();
    const evaluations = await db.system.evaluation.findMany({ include: { _count: { select: { points: true } } } });
    /** sha256 of a stored artifact, or null when it is not in the object store. */
    const storedSha256 = async (key: string): Promise<string | null> => {
      const stream = await bus.artifacts.get(key).catch(() => null);
      if (!stream) return null;
      const hash = createHash("sha256");
      for await (const chunk of stream) hash.update(chunk);
      return hash.digest("hex");
    };

    interface Row { kind: string; status: string; latencyS: number }
    const rows: Row[] = [];
    let redeliveredJobs = 0;
    let extraStarts = 0;
    let resumes = 0;
    let maxAttempt = 0;
    let deadLetterEvents = 0;
    const failureCodes = new Map<string, number>();
    for (const job of jobs) {
      const evs = (byJob.get(job.id) ?? []).sort((a, b) => Number(a.seq - b.seq));
      const terminals = evs.filter((e) => e.type === "completed" || e.type === "failed");
      const starts = evs.filter((e) => e.type === "started");
      const payload = job.payload as any;
      const kind =
        job.kind === "GENERATE" ? (payload.arm ? "generate (adapter)" : "generate (unguided)")
        : job.kind === "TRAIN" ? (String(payload.adapterName).endsWith("-cancelled") ? "train (to cancel)" : "train")
        : job.kind === "TRAIN_EVALUATOR" ? "train-evaluator"
        : "evaluate";
      rows.push({ kind, status: job.status, latencyS: job.finishedAt ? (job.finishedAt.getTime() - job.createdAt.getTime()) / 1000 : NaN });
      if (starts.length > 1) redeliveredJobs += 1;
      extraStarts += Math.max(0, starts.length - 1);
      resumes += starts.filter((s) => (s.payload.resumedFromStep ?? 0) > 0).length;
      for (const s of starts) maxAttempt = Math.max(maxAttempt, s.payload.attempt ?? 0);
      for (const f of terminals) if (f.type === "failed") {
        failureCodes.set(f.payload.code, (failureCodes.get(f.payload.code) ?? 0) + 1);
        if (f.payload.code === "MAX_DELIVERIES_EXCEEDED") deadLetterEvents += 1;
      }
      const label = `job ${job.id} (${kind}, ${job.status})`;
      if (!(TERMINAL as readonly string[]).includes(job.status)) continue; // reported as stuck
      if (terminals.length !== 1) {
        violate("terminal events", `${label} has ${terminals.length} terminal events: ${terminals.map((e) => `${e.type}${e.payload.code ? ` ${e.payload.code}` : ""} @${e.seq}`).join(", ") || "none"}`);
      }
      const last = terminals[0];
      if (last) {
        const expected = last.type === "completed" ? "SUCCEEDED" : last.payload.code === "CANCELLED" ? "CANCELLED" : "FAILED";
        if (expected !== job.status) violate("status vs event", `${label}: its first terminal event is ${last.type} ${last.payload.code ?? ""} (→ ${expected})`);
      }
      const jobAdapters = adapters.filter((a) => a.jobId === job.id);
      const jobEvaluators = evaluatorModels.filter((m) => m.jobId === job.id);
      if (job.status !== "SUCCEEDED") {
        if (jobAdapters.length + jobEvaluators.length > 0) violate("result of an unsuccessful job", `${label} has ${jobAdapters.length} adapter(s), ${jobEvaluators.length} evaluator(s)`);
        continue;
      }
      switch (job.kind) {
        case "GENERATE": {
          const g = generations.find((x) => x.jobId === job.id);
          const outputs = (g?.outputs ?? null) as { text?: unknown; tokenCount?: unknown }[] | null;
          const alphas = (g?.alphas ?? []) as unknown[];
          if (!g || !Array.isArray(outputs) || outputs.length !== alphas.length || outputs.some((o) => typeof o.text !== "string" || typeof o.tokenCount !== "number")) {
            violate("result lost", `${label}: generation outputs ${JSON.stringify(outputs)?.slice(0, 120)} for ${alphas.length} α`);
          }
          if (g && g.status !== "SUCCEEDED") violate("status vs row", `${label}: generation row is ${g.status}`);
          break;
        }
        case "TRAIN": {
          if (jobAdapters.length !== 1) {
            violate("result lost", `${label}: ${jobAdapters.length} adapter rows`);
            break;
          }
          const a = jobAdapters[0];
          const stored = a.artifactKey ? await storedSha256(a.artifactKey) : null;
          if (!a.artifactKey || !a.artifactDigest || stored !== a.artifactDigest) {
            violate("result lost", `${label}: adapter ${a.id} artifact ${a.artifactKey} digest ${a.artifactDigest}, ${stored ? `stored sha256 ${stored}` : "not in the object store"}`);
          }
          break;
        }
        case "TRAIN_EVALUATOR": {
          if (jobEvaluators.length !== 1) {
            violate("result lost", `${label}: ${jobEvaluators.length} evaluator models`);
            break;
          }
          const m = jobEvaluators[0];
          const key = m.location.replace(/^obj:\/\/[^/]+\//, "");
          const stored = m.location.startsWith("obj://") ? await storedSha256(key) : null;
          if (!m.sha256 || stored !== m.sha256) violate("result lost", `${label}: evaluator ${m.id} at ${m.location} sha256 ${m.sha256}, ${stored ? `stored ${stored}` : "not in the object store"}`);
          break;
        }
        case "EVALUATE": {
          const e = evaluations.find((x) => x.jobId === job.id);
          const grid = e ? simplexGridPointCount(Math.round(1 / e.gridStep), (e.evaluatorIds as unknown[]).length) : -1;
          if (!e || e._count.points !== grid || e.hypervolume === null) violate("result lost", `${label}: ${e?._count.points ?? 0} points of ${grid}, hypervolume ${e?.hypervolume}`);
          break;
        }
      }
    }
    // Every event on the EVENTS stream reached PostgreSQL.
    let streamEvents = 0;
    const lags: { lagMs: number; at: number }[] = [];
    const queueWaitS: number[] = [];
    let busyMs = 0;
    for (const job of jobs) {
      const stored = await bus.readEvents(job.id);
      streamEvents += stored.length;
      // Queue wait: submission to the first `started`; busy: each attempt's `started` to its last event.
      let open: number | null = null;
      let lastT = 0;
      for (const d of stored) {
        const t = d.time.getTime();
        if (d.event.type === "started") {
          if (open === null) queueWaitS.push((t - job.createdAt.getTime()) / 1000);
          else busyMs += lastT - open;
          open = t;
        }
        lastT = t;
        if ((d.event.type === "completed" || d.event.type === "failed") && open !== null) {
          busyMs += t - open;
          open = null;
        }
      }
      if (open !== null) busyMs += lastT - open;
      for (const d of stored) {
        const at = ingestedAt.get(d.seq);
        if (at !== undefined) lags.push({ lagMs: at - d.time.getTime(), at: d.time.getTime() });
      }
      const inDb = (byJob.get(job.id) ?? []).length;
      if (stored.length !== inDb) violate("events not ingested", `job ${job.id}: ${stored.length} events on the stream, ${inDb} in job_events`);
    }
    for (const [kind, d] of Object.entries(depths)) if (d.pending + d.inFlight > 0) violate("queue not drained", `${kind}: ${d.pending} pending, ${d.inFlight} in flight`);
    const dlq = (await jsm.streams.info(names.dlqStream)).state.messages;
    await jsNc.close();

    // -- report
    const loadEnd = loadavg();
    const kinds = ["train", "train (to cancel)", "train-evaluator", "generate (unguided)", "generate (adapter)", "evaluate"];
    const pct = (xs: number[], p: number) => {
      const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
      return s.length ? s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))] : NaN;
    };
    const lagMs = lags.map((l) => l.lagMs);
    const workloadSpanMs =
      Math.max(...jobs.map((j) => (j.finishedAt ?? j.updatedAt).getTime())) - Math.min(...jobs.map((j) => j.createdAt.getTime()));
    const worstLag = lags.reduce((w, l) => (l.lagMs > w.lagMs ? l : w), { lagMs: 0, at: t0 });
    const lines: string[] = [];
    lines.push("", "| jobs | SUCCEEDED | FAILED | CANCELLED | stuck | total | submit→end p50 s | max s |", "|---|---|---|---|---|---|---|---|");
    for (const kind of kinds) {
      const mine = rows.filter((r) => r.kind === kind);
      if (mine.length === 0) continue;
      const n = (s: string) => mine.filter((r) => r.status === s).length;
      const lat = mine.map((r) => r.latencyS);
      lines.push(`| ${kind} | ${n("SUCCEEDED")} | ${n("FAILED")} | ${n("CANCELLED")} | ${mine.length - n("SUCCEEDED") - n("FAILED") - n("CANCELLED")} | ${mine.length} | ${pct(lat, 0.5).toFixed(1)} | ${Math.max(...lat.filter(Number.isFinite)).toFixed(1)} |`);
    }
    const all = (s: string) => rows.filter((r) => r.status === s).length;
    lines.push(`| all | ${all("SUCCEEDED")} | ${all("FAILED")} | ${all("CANCELLED")} | ${rows.length - all("SUCCEEDED") - all("FAILED") - all("CANCELLED")} | ${rows.length} | | |`);
    lines.push(
      "",
      "| chaos and recovery | count |",
      "|---|---|",
      `| runner SIGKILLs (of a runner with a job in flight) | ${chaos.kills} (${chaos.killsOfBusyRunners}) |`,
      `| runner restarts after a kill / after exiting by itself | ${chaos.runnerRestarts} / ${supervision.selfExits.length} |`,
      `| nats-server restarts (at, down) | ${chaos.natsRestarts} (+${chaos.natsAtS.toFixed(0)} s, ${(chaos.natsDownMs / 1000).toFixed(1)} s) |`,
      `| jobs redelivered (started more than once) | ${redeliveredJobs} |`,
      `| redeliveries (extra starts) / highest attempt | ${extraStarts} / ${maxAttempt} |`,
      `| trainings resumed from a checkpoint | ${resumes} |`,
      `| dead letters (JOBS_DLQ messages / MAX_DELIVERIES_EXCEEDED events) | ${dlq} / ${deadLetterEvents} |`,
      `| failure codes | ${[...failureCodes].map(([c, n]) => `${c} ${n}`).join(", ") || "none"} |`,
      `| heartbeat listings that timed out (> 3 s) / failed | ${listRunnerStats.timeouts} / ${listRunnerStats.errors} |`,
      `| cancel requests (accepted / job already ended) | ${stats.cancels} / ${stats.cancelsTooLate} |`,
      `| mutations (rate-limited retries, quota waits, refused) | ${stats.mutations} (${stats.rateLimited}, ${stats.quotaWaits}, ${stats.submitErrors.length}) |`,
      `| events on the stream / in job_events | ${streamEvents} / ${events.length} |`,
      `| ingestion lag (stream → PostgreSQL) p50 / p99 / max s | ${(pct(lagMs, 0.5) / 1000).toFixed(2)} / ${(pct(lagMs, 0.99) / 1000).toFixed(2)} / ${(worstLag.lagMs / 1000).toFixed(2)} (at +${((worstLag.at - t0) / 1000).toFixed(0)} s) |`,
      `| queue wait (submitted → first started) p50 / max s | ${pct(queueWaitS, 0.5).toFixed(1)} / ${Math.max(...queueWaitS).toFixed(1)} |`,
      `| runner busy share (attempt time ÷ 2 runners × workload span) | ${((100 * busyMs) / (2 * workloadSpanMs)).toFixed(0)} % of ${(workloadSpanMs / 1000).toFixed(0)} s |`,
      `| duration: total / chaos / drain s | ${(totalMs / 1000).toFixed(0)} / ${(((chaos.ended || Date.now()) - chaos.started) / 1000).toFixed(0)} / ${(drainMs / 1000).toFixed(0)} |`,
      "",
      `machine: ${machine}; load average at start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadEnd.map((l) => l.toFixed(2)).join(" ")}; 2 runners × 1 thread; seed ${SEED}`,
    );
    process.stdout.write(lines.join("\n") + "\n");
    for (const e of stats.submitErrors) process.stdout.write(`refused submission: ${e}\n`);
    if (violations.length > 0) {
      failed = true;
      process.stdout.write(`\nINVARIANTS BROKEN (${violations.length}):\n`);
      for (const v of violations) process.stdout.write(`  [${v.what}] ${v.detail}\n`);
      process.stdout.write(`logs kept in ${logDir}\n`);
    } else {
      process.stdout.write("\nall invariants hold: every job ended exactly once, no result lost, every event ingested, queues empty\n");
    }
  } catch (error) {
    failed = true;
    process.stdout.write(`bench/chaos failed: ${error instanceof Error ? error.stack : String(error)}\nlogs kept in ${logDir}\n`);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    return 2;
  }
  for (const stop of stops.reverse()) await stop().catch((e: unknown) => process.stdout.write(`stop: ${String(e)}\n`));
  timelineLog.end();
  if (!failed && !args["keep-logs"]) rmSync(logDir, { recursive: true, force: true });
  else if (!failed) process.stdout.write(`logs in ${logDir}\n`);
  return failed ? 1 : 0;
}

// A hard stop well after the deadline, should shutting down hang.
setTimeout(() => {
  process.stdout.write(`bench/chaos: hard timeout (${TIMEOUT_MS / 1000 + 120} s); logs in ${logDir}\n`);
  supervision.stopping = true;
  for (const child of children) child.kill("SIGKILL");
  void Promise.race([stopPostgres?.(), sleep(10_000)]).finally(() => process.exit(2));
}, TIMEOUT_MS + 120_000).unref();

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stdout.write(`bench/chaos failed: ${String(error)}\n`);
    process.exit(2);
  },
);
