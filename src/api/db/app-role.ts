/**
 * @module api/db/app-role — the role the application's tenant-facing client connects as, and the checks that
 * make row-level security meaningful.
 *
 * Rule: with `appUrl` (or `DATABASE_APP_URL`) the operator supplies the role and its password; otherwise the
 * owner connection creates a LOGIN role `parm_app` (`PARM_APP_ROLE` renames it) whose password is derived from the
 * owner URL's password (HMAC-SHA256, so every process and every database on that server computes the same one,
 * and nothing is stored), and keeps that password in sync. Either way the owner connection then GRANTs it
 * exactly: CONNECT on the database, USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on every tenant-owned table
 * (one with a `tenant_id` column), SELECT on `tenants`, nothing on `_prisma_migrations`. Before serving,
 * `verifyRowLevelSecurity` refuses a role that is superuser, BYPASSRLS or an owner of any table, and any
 * tenant-owned table without ENABLE + FORCE ROW LEVEL SECURITY and its tenant policy.
 */
import { createHmac } from "node:crypto";
import pg from "pg";
import { DatabaseConfigError, RlsMissingError, UnsafeAppRoleError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

export const DEFAULT_APP_ROLE = "parm_app";
export const TENANTS_TABLE = "tenants";
const MIGRATIONS_TABLE = "_prisma_migrations";

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function parseDatabaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new DatabaseConfigError("database URL is not a valid URL (expected postgresql://user:password@host:port/db)", { cause: error });
  }
  if (parsed.protocol !== "postgresql:" && parsed.protocol !== "postgres:") {
    throw new DatabaseConfigError(`database URL must start with postgresql://, got ${parsed.protocol}//`);
  }
  if (parsed.pathname.length <= 1) throw new DatabaseConfigError("database URL names no database (…/dbname)");
  return parsed;
}

/** The app role's password derived from the owner URL (see the module comment). */
export function deriveAppPassword(ownerUrl: string, role: string): string {
  const owner = parseDatabaseUrl(ownerUrl);
  const secret = owner.password !== "" ? decodeURIComponent(owner.password) : `${owner.username}@${owner.host}`;
  return createHmac("sha256", secret).update(`parm-app-role:${role}`).digest("base64url");
}

/** The owner URL with the app role's credentials in place of the owner's. */
export function appUrlFor(ownerUrl: string, role: string, password: string): string {
  const url = parseDatabaseUrl(ownerUrl);
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** pg error codes handled here. */
const DUPLICATE_OBJECT = "42710";
const UNIQUE_VIOLATION = "23505";
const INVALID_PASSWORD = "28P01";
const INTERNAL_ERROR = "XX000";

function pgCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? (error as { code?: string }).code : undefined;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function canLogIn(url: string): Promise<boolean> {
  try {
    await withClient(url, async (c) => c.query("SELECT 1"));
    return true;
  } catch (error) {
    if (pgCode(error) === INVALID_PASSWORD) return false;
    throw error;
  }
}

/**
 * Creates (or re-keys) the derived app role through the owner connection and returns its URL.
 * Needs CREATEROLE on the owner; without it, supply `DATABASE_APP_URL`.
 */
export async function ensureDerivedAppRole(ownerUrl: string, role: string, log: Logger = silentLogger): Promise<string> {
  const password = deriveAppPassword(ownerUrl, role);
  const appUrl = appUrlFor(ownerUrl, role, password);
  await withClient(ownerUrl, async (owner) => {
    const found = await owner.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (found.rowCount === 0) {
      try {
        await owner.query(
          `CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD ${quoteLiteral(password)}`,
        );
        log.info("created app role", { role });
      } catch (error) {
        const code = pgCode(error);
        // Another process created it at the same moment.
        if (code !== DUPLICATE_OBJECT && code !== UNIQUE_VIOLATION) {
          throw new DatabaseConfigError(
            `cannot create app role ${role} (the owner needs CREATEROLE, or set DATABASE_APP_URL): ${String(error)}`,
            { cause: error },
          );
        }
      }
    }
  });
  if (!(await canLogIn(appUrl))) {
    const alter = `ALTER ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${quoteLiteral(password)}`;
    try {
      await withClient(ownerUrl, (owner) => owner.query(alter));
    } catch (error) {
      // Two processes re-keying at once: "tuple concurrently updated"; the other one set the same password.
      if (pgCode(error) !== INTERNAL_ERROR) throw error;
      await withClient(ownerUrl, (owner) => owner.query(alter));
    }
    log.info("reset app role password", { role });
  }
  return appUrl;
}

interface TableInfo {
  name: string;
  hasTenantId: boolean;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  hasTenantPolicy: boolean;
}

async function listTables(owner: pg.Client): Promise<TableInfo[]> {
  const result = await owner.query<{
    name: string; has_tenant_id: boolean; row_security: boolean; force_row_security: boolean; has_tenant_policy: boolean;
  }>(`
    SELECT c.relname AS name,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id,
           c.relrowsecurity AS row_security,
           c.relforcerowsecurity AS force_row_security,
           EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname IN ('tenant_isolation', 'tenant_self_read')) AS has_tenant_policy
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
     ORDER BY c.relname`);
  return result.rows.map((r) => ({
    name: r.name,
    hasTenantId: r.has_tenant_id,
    rowSecurity: r.row_security,
    forceRowSecurity: r.force_row_security,
    hasTenantPolicy: r.has_tenant_policy,
  }));
}

/** Tenant-owned tables (a `tenant_id` column) of the connected database's current schema. */
export async function tenantOwnedTables(ownerUrl: string): Promise<string[]> {
  return withClient(ownerUrl, async (owner) => (await listTables(owner)).filter((t) => t.hasTenantId).map((t) => t.name));
}

/** GRANTs the app role exactly what the tenant-scoped client needs (see the module comment). Idempotent. */
export async function grantAppRole(ownerUrl: string, role: string): Promise<void> {
  await withClient(ownerUrl, async (owner) => {
    const tables = await listTables(owner);
    if (!tables.some((t) => t.name === MIGRATIONS_TABLE)) {
      throw new DatabaseConfigError("the database has no _prisma_migrations table: run `npm run db:migrate` (or migrate()) first");
    }
    const r = quoteIdent(role);
    const { rows } = await owner.query<{ db: string; schema: string }>("SELECT current_database() AS db, current_schema() AS schema");
    const { db, schema } = rows[0]!;
    const statements = [
      `GRANT CONNECT ON DATABASE ${quoteIdent(db)} TO ${r}`,
      `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${r}`,
    ];
    for (const table of tables) {
      const t = `${quoteIdent(schema)}.${quoteIdent(table.name)}`;
      if (table.hasTenantId) statements.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${t} TO ${r}`);
      else if (table.name === TENANTS_TABLE) statements.push(`REVOKE ALL ON ${t} FROM ${r}`, `GRANT SELECT ON ${t} TO ${r}`);
      else statements.push(`REVOKE ALL ON ${t} FROM ${r}`);
    }
    await owner.query(statements.join(";\n"));
  });
}

/**
 * Refuses to serve unless RLS can hold: the app role (named in `appUrl`) is not superuser, not BYPASSRLS, owns
 * (directly or through membership) no table of the schema, and every tenant-owned table plus `tenants` has
 * ENABLE + FORCE ROW LEVEL SECURITY and its tenant policy.
 */
export async function verifyRowLevelSecurity(ownerUrl: string, appUrl: string): Promise<void> {
  const role = decodeURIComponent(parseDatabaseUrl(appUrl).username);
  await withClient(ownerUrl, async (owner) => {
    const roleRow = await owner.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1",
      [role],
    );
    const info = roleRow.rows[0];
    if (info === undefined) throw new DatabaseConfigError(`app role ${role} does not exist`);
    if (info.rolsuper) throw new UnsafeAppRoleError(`app role ${role} is a superuser: row-level security would not apply`);
    if (info.rolbypassrls) throw new UnsafeAppRoleError(`app role ${role} has BYPASSRLS: row-level security would not apply`);
    const owned = await owner.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
          AND pg_has_role($1, c.relowner, 'USAGE')`,
      [role],
    );
    if (owned.rows.length > 0) {
      throw new UnsafeAppRoleError(
        `app role ${role} owns (or is a member of the owner of) ${owned.rows.map((r) => r.relname).join(", ")}: FORCE RLS aside, owners can disable it`,
      );
    }
    const unprotected = (await listTables(owner))
      .filter((t) => t.hasTenantId || t.name === TENANTS_TABLE)
      .filter((t) => !(t.rowSecurity && t.forceRowSecurity && t.hasTenantPolicy))
      .map((t) => t.name);
    if (unprotected.length > 0) throw new RlsMissingError(unprotected);
  });
}
