/** @module api/main
 *  `npm start`: the API process. Reads the configuration (docs/configuration.md), opens PostgreSQL (DATABASE_URL or
 *  an embedded server under PARM_DATA_DIR) and migrates it, connects the job bus (NATS_URL, else a local
 *  nats-server, else in-process), resolves the admin key (printed once when generated), starts event ingestion
 *  and (unless PARM_EMBEDDED_RUNNER=0) one local CPU runner process, and serves HTTP + WebSocket until SIGINT/SIGTERM, then shuts down gracefully (a second signal exits at once). */
import "reflect-metadata";
import { mkdir } from "node:fs/promises";
import { resolveAdminKey } from "./auth/index.ts";
import { loadConfig } from "./config.ts";
import { openDatabaseFromEnvironment } from "./db/index.ts";
import { createBus } from "../bus/index.ts";
import { objectStoreModelFileStore, objectStoreSnapshotWriter, startIngest } from "./ingest/index.ts";
import { createApiPubSub } from "./pubsub/index.ts";
import type { ServiceFactory } from "./context.ts";
import { runnersServiceFactory } from "./ingest/runners-resolver.ts";
import { serviceFactories } from "./resolvers/index.ts";
import { createApiServer, createLogger } from "./server/index.ts";
import { startEmbeddedRunner } from "./embedded-runner.ts";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });

  const admin = await resolveAdminKey({ dataDir: config.dataDir, adminKey: config.adminKey });
  const db = await openDatabaseFromEnvironment({ ...process.env, PARM_DATA_DIR: config.dataDir }, log);
  let bus;
  try {
    bus = await createBus({
      natsUrl: config.natsUrl,
      dataDir: config.dataDir,
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  const natsUrl = config.natsUrl ?? bus.url;
  const pubSub = createApiPubSub();
  const ingest = await startIngest({ db, bus, pubSub, log, ...(natsUrl ? { natsUrl } : {}) });
  // With a NATS server, the runner registry comes from KV and dataset snapshots and uploaded model files go to the
  // object store, so runners on other hosts can read them; without one, the local file:// stores of the registry stay.
  const natsFactories: ServiceFactory[] = [];
  if (natsUrl) natsFactories.push(runnersServiceFactory(natsUrl));
  const artifacts = ingest.artifacts;
  if (artifacts) {
    natsFactories.push(() => ({ datasetSnapshots: objectStoreSnapshotWriter(artifacts), modelFiles: objectStoreModelFileStore(artifacts) }));
  }
  const server = await createApiServer({
    db,
    bus,
    pubSub,
    serviceFactories: [...serviceFactories, ...natsFactories],
    adminKeyHash: admin.hash,
    log,
    limits: config.limits,
    staticDir: config.staticDir,
    host: config.host,
    port: config.port,
  });
  const runner = config.embeddedRunner ? startEmbeddedRunner({ natsUrl, dataDir: config.dataDir, log }) : null;
  log.info("parm api ready", {
    url: server.url,
    graphql: server.graphqlUrl,
    database: db.embedded ? "embedded" : "DATABASE_URL",
    bus: bus.kind,
    adminKey: admin.source,
  });
  if (admin.generatedKey) {
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

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("shutting down", { signal });
    try {
      await runner?.stop();
      await server.stop();
      await ingest.stop();
      await bus.close();
      await db.close();
      log.info("stopped");
      process.exit(0);
    } catch (error) {
      log.error("shutdown failed", { error: error instanceof Error ? error : new Error(String(error)) });
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "api failed to start", error: e.message, code: (e as { code?: unknown }).code }) + "\n",
  );
  process.exit(1);
});
