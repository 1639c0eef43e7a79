/** @module test/db/migrations — migrations through the WebAssembly schema engine, and `db:migrate --create`. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import {
  createMigration,
  defaultMigrationPaths,
  migrate,
  MigrationFailedError,
  MigrationNameError,
  NoSchemaChangesError,
  openDatabase,
} from "../../src/api/db/index.ts";
import { diffSchemas, isEmptyMigration, SNAPSHOT_NAME } from "../../src/api/db/migrations.ts";
import { createEmptyDatabase } from "../helpers/db.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Columns, constraints and indexes of the public schema, migration bookkeeping excluded. */
async function structure(url: string): Promise<string[]> {
  const rows = await query<{ line: string }>(
    url,
    `SELECT format('column %s.%s %s %s %s', table_name, column_name, udt_name, is_nullable, coalesce(column_default, '')) AS line
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
     UNION ALL
     SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
      WHERE connamespace = 'public'::regnamespace AND conrelid <> 0 AND conrelid::regclass::text <> '_prisma_migrations'
     UNION ALL
     SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'
     UNION ALL
     SELECT format('enum %s %s', t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)) FROM pg_type t
       JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
  );
  return rows.map((r) => r.line).sort();
}

function committedFolders(): string[] {
  return readdirSync(defaultMigrationPaths.migrationsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

describe("migrate", () => {
  let database: { url: string; drop(): Promise<void> };
  before(async () => {
    database = await createEmptyDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test("applies every committed folder once, then nothing (idempotent)", async () => {
    const folders = committedFolders();
    assert.ok(folders.length >= 2 && folders.some((f) => f.endsWith("_rls")));
    const first = await migrate(database.url);
    assert.deepEqual(first.applied, folders);
    const second = await migrate(database.url);
    assert.deepEqual(second.applied, []);
    const rows = await query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      database.url,
      "SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name",
    );
    assert.deepEqual(rows.map((r) => r.migration_name), folders);
    assert.ok(rows.every((r) => r.finished_at !== null && r.rolled_back_at === null));
  });

  test("the migrated database has exactly the structure prisma/schema.prisma describes", async () => {
    const schema = readFileSync(defaultMigrationPaths.schemaPath, "utf8");
    const snapshot = readFileSync(join(defaultMigrationPaths.migrationsDir, SNAPSHOT_NAME), "utf8");
    assert.ok(isEmptyMigration(await diffSchemas(database.url, snapshot, schema)), "schema.prisma has changes no migration captures");
    // Build the same schema directly from schema.prisma in another database and compare the catalogs.
    const direct = await createEmptyDatabase();
    try {
      await query(direct.url, await diffSchemas(direct.url, null, schema));
      const migrated = await structure(database.url);
      assert.ok(migrated.length > 150, `catalog lines: ${migrated.length}`);
      assert.deepEqual(migrated, await structure(direct.url));
    } finally {
      await direct.drop();
    }
  });

  test("RLS is enabled and forced on every table with tenant_id and on tenants", async () => {
    const rows = await query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; policies: string[] }>(
      database.url,
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
              ARRAY(SELECT polname::text FROM pg_policy WHERE polrelid = c.oid ORDER BY polname) AS policies
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND (c.relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'))`,
    );
    assert.equal(rows.length, 12);
    for (const row of rows) {
      assert.ok(row.relrowsecurity && row.relforcerowsecurity, row.relname);
      assert.deepEqual(row.policies, row.relname === "tenants" ? ["owner_access", "tenant_self_read"] : ["owner_access", "tenant_isolation"], row.relname);
    }
  });

  test("a failing migration is reported with its folder name and recorded as unfinished", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parm-migrations-"));
    try {
      cpSync(defaultMigrationPaths.migrationsDir, dir, { recursive: true });
      mkdirSync(join(dir, "29990101000000_broken"));
      writeFileSync(join(dir, "29990101000000_broken", "migration.sql"), "ALTER TABLE \"no_such_table\" ADD COLUMN x INT;\n");
      await assert.rejects(
        migrate(database.url, undefined, { migrationsDir: dir, schemaPath: defaultMigrationPaths.schemaPath }),
        (error: unknown) => {
          assert.ok(error instanceof MigrationFailedError);
          assert.equal(error.code, "DB_MIGRATION_FAILED");
          assert.match(error.message, /29990101000000_broken/);
          assert.match(error.message, /no_such_table/);
          return true;
        },
      );
      const rows = await query<{ migration_name: string; finished_at: Date | null }>(
        database.url,
        "SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name",
      );
      assert.deepEqual(rows.map((r) => [r.migration_name, r.finished_at !== null]), [
        ...committedFolders().map((f) => [f, true]),
        ["29990101000000_broken", false],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("db:migrate --create", () => {
  let work: string;
  let database: { url: string; drop(): Promise<void> };
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "parm-create-"));
    cpSync(defaultMigrationPaths.migrationsDir, join(work, "migrations"), { recursive: true });
    cpSync(defaultMigrationPaths.schemaPath, join(work, "schema.prisma"));
    database = await createEmptyDatabase();
  });
  after(async () => {
    rmSync(work, { recursive: true, force: true });
    await database?.drop();
  });

  const paths = () => ({ migrationsDir: join(work, "migrations"), schemaPath: join(work, "schema.prisma") });

  test("writes an ALTER for a new column, an RLS companion for a new tenant table, and applies them", async () => {
    const schemaPath = join(work, "schema.prisma");
    let schema = readFileSync(schemaPath, "utf8");
    schema = schema.replace("  runnerId        String?    @map(\"runner_id\")", "  runnerId        String?    @map(\"runner_id\")\n  note            String?");
    assert.match(schema, /^\s+note\s+String\?$/m);
    schema += `
model Widget {
  id       String @id @default(uuid()) @db.Uuid
  tenantId String @map("tenant_id") @db.Uuid
  label    String

  @@index([tenantId])
  @@map("widgets")
}
`;
    writeFileSync(schemaPath, schema);
    const before = new Set(readdirSync(join(work, "migrations")));
    const { stdout } = await run(
      process.execPath,
      ["--import", "@swc-node/register/esm-register", "scripts/db-migrate.ts", "--create", "add_note", "--migrations", join(work, "migrations"), "--schema", schemaPath],
      { cwd: repoRoot, env: { ...process.env, DATABASE_URL: database.url } },
    );
    const added = readdirSync(join(work, "migrations")).filter((f) => !before.has(f)).sort();
    assert.equal(added.length, 2, `new folders: ${added.join(", ")}`);
    assert.match(added[0]!, /^\d{14}_add_note$/);
    assert.match(added[1]!, /^\d{14}_add_note_rls$/);
    assert.ok(added[0]! > [...before].filter((f) => /^\d{14}_/.test(f)).sort().at(-1)!, "sorts after the committed folders");
    const sql = readFileSync(join(work, "migrations", added[0]!, "migration.sql"), "utf8");
    assert.match(sql, /ALTER TABLE "jobs" ADD COLUMN\s+"note" TEXT;/);
    assert.match(sql, /CREATE TABLE "widgets"/);
    assert.doesNotMatch(sql, /DROP|tenants"\s*\(/, "only the change, nothing else");
    const rls = readFileSync(join(work, "migrations", added[1]!, "migration.sql"), "utf8");
    assert.match(rls, /ALTER TABLE "widgets" FORCE ROW LEVEL SECURITY;/);
    assert.doesNotMatch(rls, /"jobs"/);
    assert.equal(readFileSync(join(work, "migrations", SNAPSHOT_NAME), "utf8"), schema, "snapshot updated");
    const committed = [...before].filter((f) => /^\d{14}_/.test(f)).length;
    assert.match(stdout, new RegExp(`applied ${committed + 2} migration\\(s\\)`));

    const columns = await query<{ column_name: string }>(
      database.url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs' AND column_name = 'note'",
    );
    assert.equal(columns.length, 1);
    // The new tenant table passes openDatabase's RLS check and is granted to the app role.
    const db = await openDatabase({ url: database.url, poolSize: 1 });
    await db.close();
  });

  test("refuses when the schema did not change, writing nothing", async () => {
    const before = readdirSync(join(work, "migrations")).sort();
    await assert.rejects(createMigration({ url: database.url, name: "nothing", paths: paths() }), NoSchemaChangesError);
    assert.deepEqual(readdirSync(join(work, "migrations")).sort(), before);
  });

  test("refuses a migration name that is not lower-case snake case", async () => {
    for (const name of ["Add-Note", "", "../escape", "1starts_with_digit"]) {
      await assert.rejects(createMigration({ url: database.url, name, paths: paths() }), MigrationNameError, name);
    }
    assert.equal(existsSync(join(work, "migrations", "..", "escape")), false);
  });
});
