/** @module test/db/adapter-names-migration — the hand-written `…_adapter_names_dedupe` folder lets the unique
 *  (tenant_id, name) index on adapters apply to a database that already holds duplicate adapter names: all but the
 *  oldest row of each name are renamed `<name> (<8 hex of the id>)`, other tenants' equal names are left alone. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { defaultMigrationPaths, migrate } from "../../src/api/db/index.ts";
import { LOCKFILE_NAME } from "../../src/api/db/migrations.ts";
import { createEmptyDatabase } from "../helpers/db.ts";

const DEDUPE = "20261204185309_adapter_names_dedupe";

describe("adapter names become unique per tenant", () => {
  let database: { url: string; drop(): Promise<void> };
  let dir: string;
  before(async () => {
    database = await createEmptyDatabase();
    dir = mkdtempSync(join(tmpdir(), "parm-migrations-"));
  });
  after(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("duplicates written before the index are renamed, then the index holds", async () => {
    const folders = readdirSync(defaultMigrationPaths.migrationsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    assert.ok(folders.includes(DEDUPE));
    const copy = (names: string[]) => {
      for (const name of names) cpSync(join(defaultMigrationPaths.migrationsDir, name), join(dir, name), { recursive: true });
    };
    cpSync(join(defaultMigrationPaths.migrationsDir, LOCKFILE_NAME), join(dir, LOCKFILE_NAME));
    copy(folders.filter((f) => f < DEDUPE));
    const paths = { ...defaultMigrationPaths, migrationsDir: dir };
    await migrate(database.url, undefined, paths);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const tenant = async (name: string) => (await client.query<{ id: string }>(`INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), $1) RETURNING id`, [name])).rows[0]!.id;
      const [a, b] = [await tenant("a"), await tenant("b")];
      const model = async (t: string) =>
        (await client.query<{ id: string }>(`INSERT INTO models (id, tenant_id, name, kind, format, location) VALUES (gen_random_uuid(), $1, 'm', 'BASE', 'GGUF', '/m') RETURNING id`, [t])).rows[0]!.id;
      const [ma, mb] = [await model(a), await model(b)];
      const adapter = async (t: string, m: string, at: string) =>
        (await client.query<{ id: string }>(
          `INSERT INTO adapters (id, tenant_id, name, method, base_model_id, r1, r2, lora_alpha, training_config, created_at)
           VALUES (gen_random_uuid(), $1, 'arm', 'PARM', $2, 1, 1, 1, '{}', $3) RETURNING id`,
          [t, m, at],
        )).rows[0]!.id;
      const oldest = await adapter(a, ma, "2026-01-01T00:00:00Z");
      const later = await adapter(a, ma, "2026-01-02T00:00:00Z");
      const latest = await adapter(a, ma, "2026-01-03T00:00:00Z");
      const otherTenant = await adapter(b, mb, "2026-01-04T00:00:00Z");

      copy(folders.filter((f) => f >= DEDUPE));
      const applied = await migrate(database.url, undefined, paths);
      assert.deepEqual(applied.applied, folders.filter((f) => f >= DEDUPE));
      const names = Object.fromEntries((await client.query<{ id: string; name: string }>(`SELECT id, name FROM adapters`)).rows.map((r) => [r.id, r.name]));
      assert.deepEqual(names, {
        [oldest]: "arm",
        [later]: `arm (${later.slice(0, 8)})`,
        [latest]: `arm (${latest.slice(0, 8)})`,
        [otherTenant]: "arm",
      });
      await assert.rejects(adapter(a, ma, "2026-01-05T00:00:00Z"), /adapters_tenant_id_name_key/);
    } finally {
      await client.end();
    }
  });
});
