/** @module api/main
 *  `npm start`: the API process. Reads the configuration (docs/configuration.md), opens PostgreSQL (DATABASE_URL or
 *  an embedded server under PARM_DATA_DIR) and migrates it, connects the job bus (NATS_URL, else a local
 *  nats-server, else in-process; PARM_BUS=inprocess forces the in-process bus), recomputes stored tokenizer hashes
 *  of the former vocabulary digest once (services/tokenizer-hash-migration.ts), starts event ingestion, serves
 *  HTTP + WebSocket, and (unless PARM_EMBEDDED_RUNNER=0) starts one local CPU runner process: with JetStream it
 *  connects to the same server, with the in-process bus it reaches this process's bus over its IPC channel
 *  (api/embedded-runner.ts).
 *
 *  Admin key: a generated key is printed once the server listens, and only then is its hash stored (auth/admin-key),
 *  so a start that fails earlier (port in use) prints a new key next time rather than keeping a hash nobody saw.
 *
 *  Shutdown: the first SIGINT, SIGTERM or SIGHUP runs ONE graceful path (later signals are logged and ignored):
 *  the embedded runner stops (its jobs stop at their next step and are handed back), WebSocket clients get close
 *  1001 and HTTP drains, ingest stops, the bus closes (a local nats-server stops), and PostgreSQL stops last
 *  (StopStack: reverse of start order); then exit 0, or 1 when a step failed. A signal during start-up stops what is
 *  open by then the same way. A start that fails half-way stops what it had opened and exits 1. */
import "reflect-metadata";
import { mkdir } from "node:fs/promises";
import { resolveAdminKey, type ResolvedAdminKey } from "./auth/index.ts";
import { loadConfig, loadModelRoots, type ApiConfig } from "./config.ts";
import { openDatabaseFromEnvironment } from "./db/index.ts";
import { createBus } from "../bus/index.ts";
import { busArtifactServices, startIngest } from "./ingest/index.ts";
import { createApiMetrics } from "./plugins/metrics/index.ts";
import { createApiPubSub } from "./pubsub/index.ts";
import type { ServiceFactory } from "./context.ts";
import { serviceFactories } from "./resolvers/index.ts";
import { createApiServer, createLogger, type Logger } from "./server/index.ts";
import { startEmbeddedRunner } from "./embedded-runner.ts";
import { StopStack } from "./stop-stack.ts";
import { migrateTokenizerHashes, storedModelFiles } from "./services/tokenizer-hash-migration.ts";
import { ModelRoots } from "./services/model-roots.ts";

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function printGeneratedKey(admin: ResolvedAdminKey): void {
  process.stdout.write(
    [
      "",
      "  A platform admin key was generated. It is shown ONCE and stored only as a hash in",
      `  ${admin.path}`,
      "",
      `    ${admin.generatedKey}`,
      "",
      "  Use it as `Authorization: Bearer <key>` to create tenants. Lost it? Delete that file (or set",
      "  PARM_ADMIN_KEY) and restart.",
      "",
    ].join("\n") + "\n",
  );
}

/** Opens everything `npm start` runs, pushing each part's stop onto `stack` as soon as it is open. */
async function start(config: ApiConfig, log: Logger, stack: StopStack): Promise<void> {
  await mkdir(config.dataDir, { recursive: true });
  const admin = await resolveAdminKey({ dataDir: config.dataDir, adminKey: config.adminKey });
  const db = await openDatabaseFromEnvironment({ ...process.env, PARM_DATA_DIR: config.dataDir }, log);
  stack.push("database", () => db.close());
  // An in-process bus starts its event sequence after the highest one PostgreSQL holds, so ingestion (which resumes
  // after that sequence) takes the new events for new ones after a restart.
  const ingested = await db.system.jobEvent.aggregate({ _max: { seq: true } });
  const bus = await createBus({
    mode: config.bus,
    natsUrl: config.natsUrl,
    dataDir: config.dataDir,
    eventSeqAfter: Number(ingested._max.seq ?? 0n),
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
  });
  stack.push("bus", () => bus.close());
  // Before ingestion copies any model's tokenizer hash (a trained evaluator takes its base's): stored hashes of the
  // former digest are recomputed once (services/tokenizer-hash-migration.ts).
  await migrateTokenizerHashes({ db: db.system, stored: storedModelFiles(config.dataDir, bus.artifacts), modelRoots: new ModelRoots(loadModelRoots()), log });
  const pubSub = createApiPubSub();
  // One registry for the server and ingestion: ingestion feeds the job metrics the server's /metrics serves.
  const metrics = createApiMetrics({ tenantLabels: config.metrics.tenantLabels });
  const ingest = await startIngest({ db, bus, pubSub, log, metrics: metrics.jobs });
  stack.push("ingest", () => ingest.stop());
  // Dataset snapshots and uploaded model files go to the bus's artifact store (the NATS object store, or the in-process
  // bus's folder PARM_DATA_DIR/artifacts), where every runner of the bus reads them, as it reads what runners store.
  const artifactFactories: ServiceFactory[] = [({ bus: serverBus }) => busArtifactServices(serverBus.artifacts)];
  const server = await createApiServer({
    db,
    bus,
    pubSub,
    serviceFactories: [...serviceFactories, ...artifactFactories],
    adminKeyHash: admin.hash,
    log,
    limits: config.limits,
    metrics,
    metricsToken: config.metrics.token,
    staticDir: config.staticDir,
    host: config.host,
    port: config.port,
  });
  stack.push("server", () => server.stop());
  const runner = config.embeddedRunner ? startEmbeddedRunner({ bus, dataDir: config.dataDir, log }) : null;
  if (runner) stack.push("embedded runner", () => runner.stop());
  log.info("parm api ready", {
    url: server.url,
    graphql: server.graphqlUrl,
    database: db.embedded ? "embedded" : "DATABASE_URL",
    bus: bus.kind,
    adminKey: admin.source,
  });
  if (admin.generatedKey) {
    printGeneratedKey(admin);
    await admin.persist();
  }
}

/** Runs `stop` on the first stop signal; later ones are logged and ignored. */
function onFirstSignal(log: Logger, stop: (signal: NodeJS.Signals) => void): void {
  let first: NodeJS.Signals | null = null;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (first !== null) return log.info("already shutting down; signal ignored", { signal, first });
      first = signal;
      stop(signal);
    });
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const stack = new StopStack();
  const exitAfterStop = async (code: 0 | 1) => {
    const clean = await stack.stopAll(log);
    log.info("stopped", { clean });
    process.exit(clean ? code : 1);
  };
  onFirstSignal(log, (signal) => {
    log.info("shutting down", { signal });
    void exitAfterStop(0);
  });
  try {
    await start(config, log, stack);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    log.error("api failed to start", { error: e.message, code: (e as { code?: unknown }).code });
    await exitAfterStop(1);
  }
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "api failed to start", error: e.message, code: (e as { code?: unknown }).code }) + "\n",
  );
  process.exit(1);
});
