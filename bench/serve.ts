/** @module bench/serve
 * Interactive serving on the real stack: a nats-server (JetStream), the api as `npm start` runs it (src/api/main.ts,
 * embedded PostgreSQL, no embedded runner) and runner processes (`npm run runner`'s entry, CPU, 1 slot, 1 thread
 * each), all on 127.0.0.1. One tenant, the stories260K base model, unguided decoding (the serving path; guidance
 * adds compute, not pickup or streaming cost). For each runner count (`--runners`, default 1 then 2):
 *   - pickup: `--pickup` generations of `--max-tokens` tokens submitted one at a time on idle runners; publish →
 *     `started`, both taken as this process receives them from NATS (a core subscription on the job subjects and the
 *     EVENTS stream), so one clock measures both ends;
 *   - burst: `--burst` generations submitted at once; wall time from the first publish to the last `completed`
 *     against the sum of the jobs' run times (`started` → `completed`) divided by the runner count;
 *   - SSE: 1, 8 and 32 concurrent `POST /v1/completions` streams through the official `openai` client, repeated
 *     until at least 32 requests ran: time to first token (request sent → first text chunk) p50/p99 and aggregate
 *     tokens/s;
 * and once, after the last runner count: token fan-out of one generation (`--fanout-tokens` tokens at
 * `--fanout-rate` tokens/s, default 50: a served model's pace; stories260K alone makes over 1000/s) to
 * `--subscribers` graphql-ws subscriptions of `generationTokens` on as many sockets, against the same with one
 * subscriber: per token and subscriber, receipt over the socket − receipt of the token event from NATS here; the
 * added latency is the wide p99 minus the 1-subscriber p99. The runners are stopped (SIGSTOP) while the generation is
 * queued and the subscriptions are set up; this process then publishes the generation's events as a runner would,
 * paced to the rate, so only streaming is measured. The subscribing
 * sockets live in this process, so their own parsing is part of the figure; the CPU of the api and of this process
 * over the wide run is printed.
 * Prints the machine, load average and every figure; bench/README.md has measured ones.
 *
 * Usage: npm run bench:serve -- [--runners 1,2] [--pickup 30] [--burst 50] [--max-tokens 16] [--streams 1,8,32]
 *                                [--subscribers 500] [--fanout-tokens 200] [--fanout-rate 50] [--keep-logs]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, chmodSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createClient, type Client } from "graphql-ws";
import OpenAI from "openai";
import WebSocket from "ws";
import { connectJetStreamBus, startLocalNatsServer, type EventSubscription, type JobBus } from "../src/bus/index.ts";
import { freePort } from "./ports.ts";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHARED_DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const STORIES = join(SHARED_DATA, "tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf");
const PROMPT = "Once upon a time";

const { values: args } = parseArgs({
  options: {
    runners: { type: "string", default: "1,2" },
    pickup: { type: "string", default: "30" },
    burst: { type: "string", default: "50" },
    "max-tokens": { type: "string", default: "16" },
    streams: { type: "string", default: "1,8,32" },
    subscribers: { type: "string", default: "500" },
    "fanout-tokens": { type: "string", default: "200" },
    "fanout-rate": { type: "string", default: "50" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const positiveInts = (name: string, raw: string): number[] => {
  const values = raw.split(",").map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`bench/serve: --${name} takes positive integers, got ${raw}`);
  return values;
};
const RUNNER_COUNTS = positiveInts("runners", args.runners);
const [PICKUP] = positiveInts("pickup", args.pickup);
const [BURST] = positiveInts("burst", args.burst);
const [MAX_TOKENS] = positiveInts("max-tokens", args["max-tokens"]);
const STREAMS = positiveInts("streams", args.streams);
const [SUBSCRIBERS] = positiveInts("subscribers", args.subscribers);
const [FANOUT_TOKENS] = positiveInts("fanout-tokens", args["fanout-tokens"]);
const [FANOUT_RATE] = positiveInts("fanout-rate", args["fanout-rate"]);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const uuidOf = (id: string) => Buffer.from(id, "base64").toString("utf8").split(":")[1]!;
const say = (message: string) => process.stdout.write(`[serve] ${message}\n`);

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;
const summary = (values: readonly number[]) => `p50 ${ms(quantile(values, 0.5))}, p99 ${ms(quantile(values, 0.99))}, max ${ms(quantile(values, 1))} (n ${values.length})`;

// ---- the platform --------------------------------------------------------------------------------------------------

interface Platform {
  readonly baseUrl: string;
  /** CPU seconds the api process has used so far (user + system, from /proc). */
  apiCpuSeconds(): number;
  /** Stops (SIGSTOP) or resumes (SIGCONT) every runner process; keep pauses well below the heartbeat TTL. */
  pauseRunners(paused: boolean): void;
  readonly natsUrl: string;
  readonly adminKey: string;
  startRunner(index: number): Promise<ChildProcess>;
  stop(): Promise<void>;
}

const logDir = mkdtempSync(join(tmpdir(), "parm-serve-"));
chmodSync(logDir, 0o755); // as root, the embedded PostgreSQL runs as "postgres", which must reach its folder

function spawnLogged(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const out = openSync(join(logDir, `${name}.log`), "a");
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  return child;
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks of 100 Hz). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

async function startPlatform(): Promise<Platform> {
  const quiet = { info: () => {}, warn: (m: string) => say(`nats: ${m}`) };
  const nats = await startLocalNatsServer(join(logDir, "nats"), quiet);
  if (!nats) throw new Error("bench/serve needs an installed nats-server (apt-get install nats-server)");
  const port = await freePort();
  const adminKey = `pk_admin_${randomBytes(16).toString("hex")}`;
  const base = { ...process.env } as Record<string, string>;
  delete base.DATABASE_URL;
  delete base.DATABASE_APP_URL;
  const api = spawnLogged("api", "src/api/main.ts", {
    ...base,
    HOST: "127.0.0.1",
    PORT: String(port),
    NATS_URL: nats.url,
    PARM_DATA_DIR: join(logDir, "api"),
    PARM_EMBEDDED_RUNNER: "0",
    PARM_ADMIN_KEY: adminKey,
    PARM_MODEL_ROOTS: SHARED_DATA,
    PARM_LOG_LEVEL: "warn",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const until = Date.now() + 180_000;
  while ((await fetch(`${baseUrl}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (api.exitCode !== null) throw new Error(`the api exited (${api.exitCode}); see ${join(logDir, "api.log")}`);
    if (Date.now() > until) throw new Error("the api did not become ready");
    await sleep(250);
  }
  const runners: ChildProcess[] = [];
  return {
    baseUrl,
    apiCpuSeconds: () => processCpuSeconds(api.pid!),
    pauseRunners: (paused) => {
      for (const runner of runners) runner.kill(paused ? "SIGSTOP" : "SIGCONT");
    },
    natsUrl: nats.url,
    adminKey,
    async startRunner(index) {
      const child = spawnLogged(`runner-${index}`, "src/gpu-runner/main.ts", {
        NATS_URL: nats.url,
        PARM_RUNNER_ID: `serve-${index}`,
        PARM_RUNNER_SLOTS: "1",
        PARM_RUNNER_THREADS: "1",
        PARM_EXECUTION_PROVIDER: "cpu",
        PARM_RUNNER_CACHE_DIR: join(logDir, `runner-cache-${index}`),
      });
      runners.push(child);
      return child;
    },
    async stop() {
      await Promise.all(runners.map(stopChild));
      await stopChild(api);
      await nats.stop();
    },
  };
}

// ---- the tenant ----------------------------------------------------------------------------------------------------

interface Tenant {
  readonly key: string;
  readonly modelId: string;
}

async function gql<T = any>(baseUrl: string, key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

async function createTenant(platform: Platform): Promise<Tenant> {
  const created = await gql(platform.baseUrl, platform.adminKey, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { __typename ... on CreateTenantSuccess { secret } ... on Error { message } } }`, {
    input: { name: "serve-bench", maxConcurrentJobs: 1000, mutationsPerMinute: 1_000_000 },
  });
  const key = created.createTenant.secret as string;
  if (!key) throw new Error(`createTenant: ${JSON.stringify(created)}`);
  const m = await gql(platform.baseUrl, key, `mutation($input: RegisterModelInput!) { registerModel(input: $input) { __typename ... on RegisterModelSuccess { model { id } } ... on Error { message } } }`, {
    input: { name: "stories260k", kind: "BASE", location: STORIES, promptTemplate: "PLAIN" },
  });
  if (!m.registerModel.model) throw new Error(`registerModel: ${JSON.stringify(m)}`);
  return { key, modelId: m.registerModel.model.id };
}

async function submitGeneration(platform: Platform, tenant: Tenant, maxTokens: number): Promise<{ id: string; jobId: string }> {
  const data = await gql(platform.baseUrl, tenant.key, `mutation($input: GenerateInput!) { generate(input: $input) { __typename ... on GenerateSuccess { generation { id jobId } } ... on Error { message } } }`, {
    input: { baseModelId: tenant.modelId, prompt: PROMPT, alphas: [[]], maxTokens, sampling: { temperature: 0 } },
  });
  if (data.generate.__typename !== "GenerateSuccess") throw new Error(`generate: ${JSON.stringify(data.generate)}`);
  const { id, jobId } = data.generate.generation;
  return { id, jobId: uuidOf(jobId) };
}

/** Resolves once the api process used under 2 % of a core over 250 ms (its subscriptions are set up). */
async function apiIdle(platform: Platform, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const before = platform.apiCpuSeconds();
    await sleep(250);
    if (platform.apiCpuSeconds() - before < 0.005 || Date.now() > until) return;
  }
}

// ---- what NATS says: publish, started, completed, token receipts ------------------------------------------------

interface JobTimes {
  published?: number;
  started?: number;
  ended?: number;
  failed?: string;
  tokens: Map<number, number>;
}

class Observer {
  readonly jobs = new Map<string, JobTimes>();
  private waiters = new Map<string, () => void>();
  private constructor(
    private readonly nc: NatsConnection,
    readonly bus: JobBus,
    private readonly events: EventSubscription,
  ) {}

  static async start(natsUrl: string): Promise<Observer> {
    const nc = await connect({ servers: natsUrl, name: "bench-serve-observer" });
    const bus = await connectJetStreamBus(natsUrl, { connectionName: "bench-serve-events" });
    let observer!: Observer;
    const events = await bus.subscribeEvents({}, (delivery) => observer.onEvent(delivery.jobId, delivery.event));
    observer = new Observer(nc, bus, events);
    nc.subscribe("jobs.>", {
      callback: (error, message) => {
        if (error) return;
        const jobId = (message.json() as { jobId: string }).jobId;
        observer.times(jobId).published ??= performance.now();
      },
    });
    await nc.flush();
    return observer;
  }

  times(jobId: string): JobTimes {
    let t = this.jobs.get(jobId);
    if (!t) this.jobs.set(jobId, (t = { tokens: new Map() }));
    return t;
  }

  private onEvent(jobId: string, event: { type: string; position?: number; reason?: string }): void {
    const now = performance.now();
    const t = this.times(jobId);
    if (event.type === "started") t.started ??= now;
    else if (event.type === "token" && event.position !== undefined) t.tokens.set(event.position, now);
    else if (event.type === "completed" || event.type === "failed") {
      t.ended = now;
      if (event.type === "failed") t.failed = event.reason ?? "failed";
      this.waiters.get(jobId)?.();
    }
  }

  async ended(jobId: string, timeoutMs = 120_000): Promise<JobTimes> {
    const t = this.times(jobId);
    if (t.ended === undefined) {
      await Promise.race([
        new Promise<void>((resolve) => this.waiters.set(jobId, resolve)),
        sleep(timeoutMs).then(() => {
          throw new Error(`job ${jobId} did not end within ${timeoutMs} ms`);
        }),
      ]);
      this.waiters.delete(jobId);
    }
    if (t.failed) throw new Error(`job ${jobId} failed: ${t.failed}`);
    return t;
  }

  async stop(): Promise<void> {
    await this.events.stop();
    await this.bus.close();
    await this.nc.close();
  }
}

// ---- the measurements ----------------------------------------------------------------------------------------------

async function measurePickup(platform: Platform, tenant: Tenant, observer: Observer): Promise<number[]> {
  const waits: number[] = [];
  for (let i = 0; i < PICKUP; i++) {
    const { jobId } = await submitGeneration(platform, tenant, MAX_TOKENS);
    const t = await observer.ended(jobId);
    waits.push(t.started! - t.published!);
    await sleep(50); // every runner idle again, its slot back in the pick loop
  }
  return waits;
}

async function measureBurst(platform: Platform, tenant: Tenant, observer: Observer, runners: number) {
  const jobs = await Promise.all(Array.from({ length: BURST }, () => submitGeneration(platform, tenant, MAX_TOKENS)));
  const times = await Promise.all(jobs.map((j) => observer.ended(j.jobId)));
  const first = Math.min(...times.map((t) => t.published!));
  const last = Math.max(...times.map((t) => t.ended!));
  const compute = times.reduce((sum, t) => sum + (t.ended! - t.started!), 0);
  return { wallS: (last - first) / 1000, computePerRunnerS: compute / 1000 / runners };
}

async function measureStreams(platform: Platform, tenant: Tenant, concurrency: number) {
  const client = new OpenAI({ apiKey: tenant.key, baseURL: `${platform.baseUrl}/v1`, maxRetries: 0, timeout: 300_000 });
  const rounds = Math.max(1, Math.ceil(32 / concurrency));
  const ttft: number[] = [];
  let tokens = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const sent = performance.now();
        const stream = await client.completions.create({ model: tenant.modelId, prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } });
        let first: number | null = null;
        for await (const chunk of stream) {
          if (first === null && chunk.choices[0]?.text) first = performance.now();
          if (chunk.usage) tokens += chunk.usage.completion_tokens;
        }
        if (first === null) throw new Error("a stream ended without text");
        ttft.push(first - sent);
      }),
    );
  }
  return { ttft, tokensPerSecond: tokens / ((performance.now() - started) / 1000), requests: rounds * concurrency };
}

function wsClient(platform: Platform, key: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url: `${platform.baseUrl.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      lazy: false,
      retryAttempts: 0,
      on: { connected: () => resolve(client), error: (e) => reject(e instanceof Error ? e : new Error(String(e))) },
    });
  });
}

/**
 * Per token position and subscriber: socket receipt − NATS receipt (ms), for one generation with `clients`. The
 * subscriptions are set up while the runners are stopped, so the figure is the streaming alone (setting up 500
 * subscriptions costs the api seconds of database work).
 */
/** Publishes a generation's events as a runner would — `started`, `tokens` token events at `rate` per second, paced
 *  against the clock, `completed` — so the fan-out is measured at a chosen token rate. */
async function streamTokens(bus: JobBus, jobId: string, tokens: number, rate: number): Promise<void> {
  await bus.publishEvent(jobId, { type: "started", runnerId: "bench-serve", attempt: 1, device: "cpu", resumedFromStep: 0 });
  const start = performance.now();
  for (let position = 0; position < tokens; position++) {
    const due = start + (position * 1000) / rate;
    if (due > performance.now()) await sleep(due - performance.now());
    await bus.publishEvent(jobId, { type: "token", outputIndex: 0, position, tokenId: 1, text: " x" });
  }
  const text = " x".repeat(tokens);
  await bus.publishEvent(jobId, { type: "completed", durationSeconds: (performance.now() - start) / 1000, metrics: {}, outputs: [{ alpha: [], text, tokenCount: tokens, finishReason: "length" }] });
}

interface FanOut {
  /** Socket receipt − NATS receipt per token and subscriber (ms). */
  readonly latencies: number[];
  /** From the runners' resumption to the last token: wall, api CPU and this process's CPU (s). */
  readonly streaming: { readonly wallS: number; readonly apiS: number; readonly subscribersS: number };
}

async function fanOut(platform: Platform, tenant: Tenant, observer: Observer, clients: Client[]): Promise<FanOut> {
  platform.pauseRunners(true); // the generation waits in the queue while the subscriptions are set up
  const { id, jobId } = await submitGeneration(platform, tenant, FANOUT_TOKENS);
  const receipts = clients.map(() => new Map<number, number>());
  const done = clients.map(
    (client, i) =>
      new Promise<void>((resolve, reject) => {
        client.subscribe<{ generationTokens: { position: number } }>(
          { query: `subscription($id: ID!) { generationTokens(generationId: $id) { position } }`, variables: { id } },
          {
            next: (result) => {
              const position = result.data?.generationTokens.position;
              if (position !== undefined) receipts[i]!.set(position, performance.now());
            },
            error: (e) => (String((e as { message?: string })?.message ?? e).includes("JOB_") ? resolve() : reject(e instanceof Error ? e : new Error(JSON.stringify(e)))),
            complete: resolve,
          },
        );
      }),
  );
  await apiIdle(platform);
  await sleep(2000); // the last subscriptions' database reads
  const apiCpu = platform.apiCpuSeconds();
  const ownCpu = process.cpuUsage();
  const started = performance.now();
  await streamTokens(observer.bus, jobId, FANOUT_TOKENS, FANOUT_RATE);
  const t = await observer.ended(jobId);
  await Promise.all(done);
  platform.pauseRunners(false); // the runner finds the job finished and acknowledges it
  const own = process.cpuUsage(ownCpu);
  const streaming = { wallS: (performance.now() - started) / 1000, apiS: platform.apiCpuSeconds() - apiCpu, subscribersS: (own.user + own.system) / 1e6 };
  const latencies: number[] = [];
  for (const [position, natsAt] of t.tokens) {
    for (const r of receipts) {
      const at = r.get(position);
      if (at !== undefined) latencies.push(at - natsAt);
    }
  }
  return { latencies, streaming };
}

async function measureFanOut(platform: Platform, tenant: Tenant, observer: Observer) {
  const one = [await wsClient(platform, tenant.key)];
  const single = await fanOut(platform, tenant, observer, one);
  const many: Client[] = [...one];
  while (many.length < SUBSCRIBERS) many.push(...(await Promise.all(Array.from({ length: Math.min(50, SUBSCRIBERS - many.length) }, () => wsClient(platform, tenant.key)))));
  const wide = await fanOut(platform, tenant, observer, many);
  await Promise.all(many.map((c) => c.dispose()));
  return { single, wide };
}

// ---- the run -------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
  say(`machine: ${cpus()[0]?.model ?? "cpu"} (${cpus().length} cores), node ${process.version}; load average ${load()}; logs in ${logDir}`);
  say(`settings: runners ${RUNNER_COUNTS.join(" then ")} (1 slot, 1 thread each, CPU), ${MAX_TOKENS}-token unguided stories260K generations`);
  const platform = await startPlatform();
  const observer = await Observer.start(platform.natsUrl);
  try {
    const tenant = await createTenant(platform);
    let started = 0;
    for (const count of RUNNER_COUNTS) {
      while (started < count) await platform.startRunner(started++);
      await observer.ended((await submitGeneration(platform, tenant, MAX_TOKENS)).jobId, 180_000); // warm-up: runner up, model cached
      for (let i = 1; i < count; i++) await observer.ended((await submitGeneration(platform, tenant, MAX_TOKENS)).jobId);
      say(`--- ${count} runner(s); load average ${load()}`);
      say(`pickup (publish → started, idle runner): ${summary(await measurePickup(platform, tenant, observer))}`);
      const burst = await measureBurst(platform, tenant, observer, count);
      say(`burst of ${BURST}: ${burst.wallS.toFixed(2)} s wall, ${burst.computePerRunnerS.toFixed(2)} s of run time per runner (wall ÷ run time ${(burst.wallS / burst.computePerRunnerS).toFixed(2)})`);
      for (const concurrency of STREAMS) {
        const s = await measureStreams(platform, tenant, concurrency);
        say(`SSE ×${concurrency} (${s.requests} requests): TTFT ${summary(s.ttft)}; ${s.tokensPerSecond.toFixed(0)} tokens/s aggregate`);
      }
    }
    say(`--- fan-out; load average ${load()}`);
    const f = await measureFanOut(platform, tenant, observer);
    const added = quantile(f.wide.latencies, 0.99) - quantile(f.single.latencies, 0.99);
    say(`fan-out of ${FANOUT_TOKENS} tokens at ${FANOUT_RATE} tokens/s, 1 subscriber: NATS → socket ${summary(f.single.latencies)}`);
    say(`fan-out, ${SUBSCRIBERS} subscribers: NATS → socket ${summary(f.wide.latencies)}; added latency p99 ${ms(added)}`);
    const { wallS, apiS, subscribersS } = f.wide.streaming;
    say(`fan-out streaming CPU over ${wallS.toFixed(2)} s: api ${apiS.toFixed(2)} s (${((apiS / f.wide.latencies.length) * 1e6).toFixed(1)} µs per delivered token), this process's ${SUBSCRIBERS} sockets ${subscribersS.toFixed(2)} s`);
    say(`load average at the end ${load()}`);
  } finally {
    await observer.stop().catch(() => undefined);
    await platform.stop().catch((e: unknown) => say(`stop: ${String(e)}`));
  }
  if (!args["keep-logs"]) rmSync(logDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? error.stack : String(error)} (logs kept in ${logDir})`);
    process.exit(1);
  },
);
