/**
 * @module api/db/rls — the row-level-security statements every tenant-owned table gets, shared by the RLS
 * migrations (the first one, and the companion `_rls` folder `--create` writes for a new tenant-owned table)
 * and by the start-up check that refuses to serve a table without them.
 *
 * Contract, per tenant-owned table `t` (one with a `tenant_id uuid` column):
 * - `ENABLE` and `FORCE ROW LEVEL SECURITY` (FORCE: the owner is subject to policies too);
 * - policy `tenant_isolation` for every role: `USING` and `WITH CHECK`
 *   `tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid` — no setting, or the `''` a pooled
 *   connection keeps after a transaction-local `set_config`, matches no row (NULL), never raises;
 * - policy `owner_access` for the role that ran the migration (`CURRENT_USER`, the schema owner): all rows, so the
 *   system connection keeps working when the owner is not a superuser.
 * The `tenants` table: `tenant_self_read`, SELECT of the row whose `id` is the setting, plus `owner_access`.
 */

/** SQL expression of the current tenant: the UUID in `app.tenant_id`, or NULL when unset or empty. */
export const CURRENT_TENANT_SQL = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Statements that protect one tenant-owned table. */
export function tenantTableRlsSql(table: string): string {
  const t = quoteIdent(table);
  return [
    `-- RLS: ${table}`,
    `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;`,
    `ALTER TABLE ${t} FORCE ROW LEVEL SECURITY;`,
    `CREATE POLICY "tenant_isolation" ON ${t}`,
    `  USING ("tenant_id" = ${CURRENT_TENANT_SQL})`,
    `  WITH CHECK ("tenant_id" = ${CURRENT_TENANT_SQL});`,
    `CREATE POLICY "owner_access" ON ${t} TO CURRENT_USER USING (true) WITH CHECK (true);`,
    "",
  ].join("\n");
}

/** Statements that protect the tenants table itself (readable by the app role for its own row only). */
export function tenantsTableRlsSql(table = "tenants"): string {
  const t = quoteIdent(table);
  return [
    `-- RLS: ${table}`,
    `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;`,
    `ALTER TABLE ${t} FORCE ROW LEVEL SECURITY;`,
    `CREATE POLICY "tenant_self_read" ON ${t} FOR SELECT`,
    `  USING ("id" = ${CURRENT_TENANT_SQL});`,
    `CREATE POLICY "owner_access" ON ${t} TO CURRENT_USER USING (true) WITH CHECK (true);`,
    "",
  ].join("\n");
}

/**
 * Tables created by a migration script that carry a `tenant_id` column, read from Prisma's generated
 * `CREATE TABLE "name" (...)` statements.
 */
export function tenantTablesCreatedBy(sql: string): string[] {
  const tables: string[] = [];
  const createTable = /CREATE TABLE "([^"]+)" \(([\s\S]*?)\n\);/g;
  for (const match of sql.matchAll(createTable)) {
    const [, name, body] = match;
    if (name !== undefined && body !== undefined && /^\s*"tenant_id"\s/m.test(body)) tables.push(name);
  }
  return tables;
}
