/**
 * @module api/db/database — the two PostgreSQL connections of the api:
 * `system` (the owner URL: migrations, API-key lookup, tenant administration, event-ingest bookkeeping; never
 * handed to tenant-facing resolvers) and the app-role pool behind `forTenant` (tenant-scoped, RLS-checked).
 */
import { resolve } from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";
import { DEFAULT_APP_ROLE, ensureDerivedAppRole, grantAppRole, parseDatabaseUrl, verifyRowLevelSecurity } from "./app-role.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrations.ts";
import { createTenantClient, type TenantDb } from "./tenant-scope.ts";
import { silentLogger, type Logger } from "./logger.ts";

export interface Database {
  /** Owner/system connection: migrations, API-key lookup, tenant administration, event ingest bookkeeping.
   *  Not subject to tenant scoping; never handed to tenant-facing resolvers. */
  readonly system: PrismaClient;
  /** The app role's connection string (the role RLS applies to). For diagnostics and RLS tests. */
  readonly appUrl: string;
  /** A client scoped to one tenant: every query runs with app.tenant_id set (RLS) AND tenantId filters/defaults
   *  injected by the extension, on the non-owner app role. Throws InvalidTenantIdError for a non-UUID. */
  forTenant(tenantId: string): TenantDb;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Owner URL (the role that ran the migrations). */
  url: string;
  /** App-role URL; default `DATABASE_APP_URL`, else the derived `parm_app` role (app-role.ts). */
  appUrl?: string;
  log?: Logger;
  /** Connections per pool (system and app each); default 10. */
  poolSize?: number;
}

/** How long a transaction (every tenant-scoped statement is one) may wait for a pooled connection: a burst — 500
 *  subscribers starting at once — queues instead of failing after Prisma's default 2 s. `timeout` stays Prisma's. */
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 5_000 };

function newClient(url: string, poolSize: number): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }), transactionOptions: TRANSACTION_OPTIONS });
}

/**
 * Opens both connections of an already migrated database: ensures the app role and its GRANTs, verifies that
 * row-level security holds (app-role.ts), and returns the Database.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const log = opts.log ?? silentLogger;
  const poolSize = opts.poolSize ?? 10;
  parseDatabaseUrl(opts.url);
  const suppliedAppUrl = opts.appUrl ?? process.env.DATABASE_APP_URL;
  let appUrl: string;
  if (suppliedAppUrl !== undefined && suppliedAppUrl !== "") {
    appUrl = suppliedAppUrl;
    parseDatabaseUrl(appUrl);
  } else {
    appUrl = await ensureDerivedAppRole(opts.url, process.env.PARM_APP_ROLE ?? DEFAULT_APP_ROLE, log);
  }
  await grantAppRole(opts.url, decodeURIComponent(parseDatabaseUrl(appUrl).username));
  await verifyRowLevelSecurity(opts.url, appUrl);

  const system = newClient(opts.url, poolSize);
  const app = newClient(appUrl, poolSize);
  let closed = false;
  return {
    system,
    appUrl,
    forTenant: (tenantId: string) => createTenantClient(app, tenantId),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([system.$disconnect(), app.$disconnect()]);
    },
  };
}

/**
 * The platform's start-up path: `DATABASE_URL` when set, else an embedded PostgreSQL under `PARM_DATA_DIR`
 * (default `./.parm`); then migrations, then openDatabase (app URL from `DATABASE_APP_URL` when set).
 * `close()` also stops the embedded server.
 */
export async function openDatabaseFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  log: Logger = silentLogger,
): Promise<Database & { url: string; embedded: boolean }> {
  let url = env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined || url === "") {
    const dataDir = resolve(env.PARM_DATA_DIR ?? ".parm");
    // The test runner (PARM_TEST=1) skips initdb's fsync: its clusters are thrown away.
    const server = await startEmbeddedPostgres(dataDir, log, { durable: env.PARM_TEST !== "1" });
    url = server.url;
    stopEmbedded = () => server.stop();
  }
  try {
    await migrate(url, log);
    const db = await openDatabase({ url, appUrl: env.DATABASE_APP_URL, log });
    return {
      ...db,
      url,
      embedded: stopEmbedded !== undefined,
      async close() {
        await db.close();
        await stopEmbedded?.();
      },
    };
  } catch (error) {
    await stopEmbedded?.();
    throw error;
  }
}

