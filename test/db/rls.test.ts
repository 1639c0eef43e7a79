/**
 * @module test/db/rls — PostgreSQL row-level security as the backstop behind tenant scoping: raw SQL on the app
 * role's own connection, with the Prisma extension bypassed entirely.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { readFileSync } from "node:fs";
import { PrismaClient, defaultMigrationPaths, openDatabase, RlsMissingError, UnsafeAppRoleError } from "../../src/api/db/index.ts";
import { tenantOwnedTables } from "../../src/api/db/app-role.ts";
import { createTenantClient } from "../../src/api/db/tenant-scope.ts";
import { createTestDatabase, seedTenant, type SeededTenant, type TestDatabase } from "../helpers/db.ts";

/** Table names of the models that carry tenantId, read from prisma/schema.prisma (independent of the database). */
function tenantModelTables(): string[] {
  const schema = readFileSync(defaultMigrationPaths.schemaPath, "utf8");
  const tables: string[] = [];
  for (const [, name, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    if (!/^\s+tenantId\s/m.test(body!)) continue;
    tables.push(/@@map\("([^"]+)"\)/.exec(body!)?.[1] ?? name!);
  }
  return tables.sort();
}

describe("row-level security on the app role (extension bypassed)", () => {
  let t: TestDatabase;
  let a: SeededTenant;
  let b: SeededTenant;
  let app: PrismaClient;
  let tables: string[];

  before(async () => {
    t = await createTestDatabase();
    a = await seedTenant(t.db, "tenant-a");
    b = await seedTenant(t.db, "tenant-b");
    // One pooled connection: every statement below reuses the same session.
    app = new PrismaClient({ adapter: new PrismaPg({ connectionString: t.db.appUrl, max: 1 }) });
    tables = await tenantOwnedTables(t.url);
  });
  after(async () => {
    await app?.$disconnect();
    await t?.drop();
  });

  /** Rows of `table` visible to the app role with app.tenant_id = tenant (null: not set). */
  async function visibleTenantIds(table: string, tenant: string | null): Promise<string[]> {
    return app.$transaction(async (tx) => {
      if (tenant !== null) await tx.$executeRaw`SELECT set_config('app.tenant_id', ${tenant}, true)`;
      const rows = await tx.$queryRawUnsafe<{ tenant_id: string }[]>(`SELECT tenant_id::text FROM "${table}"`);
      return rows.map((r) => r.tenant_id);
    });
  }

  test("every table with tenant_id in the database is a tenant model of schema.prisma, and vice versa", () => {
    assert.deepEqual([...tables].sort(), tenantModelTables());
    assert.ok(tables.length >= 11, `tenant-owned tables: ${tables.join(", ")}`);
  });

  test("the app role connects as a non-owner without BYPASSRLS", async () => {
    const rows = await app.$queryRaw<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }[]>`
      SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.current_user, "parm_app");
    assert.equal(rows[0]!.rolsuper, false);
    assert.equal(rows[0]!.rolbypassrls, false);
    const owned = await app.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user`;
    assert.equal(owned[0]!.n, 0n);
  });

  test("tenant A's setting sees only A's rows in EVERY tenant-owned table", async () => {
    for (const table of tables) {
      const seenByA = await visibleTenantIds(table, a.tenantId);
      assert.ok(seenByA.length > 0, `${table}: A sees its own rows`);
      assert.ok(seenByA.every((id) => id === a.tenantId), `${table}: A sees only A's rows`);
      const seenByB = await visibleTenantIds(table, b.tenantId);
      assert.ok(seenByB.length > 0 && seenByB.every((id) => id === b.tenantId), `${table}: B sees only B's rows`);
    }
  });

  test("the system (owner) connection sees both tenants, so the rows A cannot see do exist", async () => {
    for (const table of tables) {
      const rows = await t.db.system.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(DISTINCT tenant_id) AS n FROM "${table}"`);
      assert.equal(rows[0]!.n, 2n, table);
    }
  });

  test("with no tenant set nothing is visible (and nothing raises)", async () => {
    for (const table of tables) assert.deepEqual(await visibleTenantIds(table, null), [], table);
    const tenants = await app.$queryRaw<{ id: string }[]>`SELECT id::text FROM tenants`;
    assert.deepEqual(tenants, []);
  });

  test("the tenants table shows the app role only its own tenant's row", async () => {
    const rows = await app.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
      return tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM tenants`;
    });
    assert.deepEqual(rows.map((r) => r.id), [a.tenantId]);
  });

  test("WITH CHECK refuses inserting a row for another tenant", async () => {
    await assert.rejects(
      app.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
        await tx.$executeRaw`INSERT INTO jobs (id, tenant_id, kind, payload, updated_at)
          VALUES (gen_random_uuid(), ${b.tenantId}::uuid, 'TRAIN', '{}', now())`;
      }),
      /row-level security/,
    );
    // With no tenant set even the own tenant's row cannot be written.
    await assert.rejects(
      app.$executeRaw`INSERT INTO jobs (id, tenant_id, kind, payload, updated_at)
        VALUES (gen_random_uuid(), ${a.tenantId}::uuid, 'TRAIN', '{}', now())`,
      /row-level security/,
    );
  });

  test("WITH CHECK refuses moving a row to another tenant in EVERY tenant-owned table", async () => {
    for (const table of tables) {
      await assert.rejects(
        app.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
          await tx.$executeRawUnsafe(`UPDATE "${table}" SET tenant_id = $1::uuid`, b.tenantId);
        }),
        /row-level security/,
        table,
      );
    }
  });

  test("updates and deletes under A's setting cannot touch B's rows", async () => {
    const [updated, deleted] = await app.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
      const u = await tx.$executeRaw`UPDATE jobs SET error = 'x' WHERE id = ${b.jobId}::uuid`;
      const d = await tx.$executeRaw`DELETE FROM api_keys WHERE id = ${b.apiKeyId}::uuid`;
      return [u, d];
    });
    assert.equal(updated, 0);
    assert.equal(deleted, 0);
    const still = await t.db.system.apiKey.findUnique({ where: { id: b.apiKeyId } });
    assert.ok(still);
  });

  test("a pooled connection does not keep the setting after its transaction", async () => {
    const during = await app.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
      return tx.$queryRaw<{ pid: number; n: bigint }[]>`SELECT pg_backend_pid() AS pid, (SELECT count(*) FROM jobs) AS n`;
    });
    assert.ok(during[0]!.n > 0n);
    const afterwards = await app.$queryRaw<{ pid: number; setting: string | null; n: bigint }[]>`
      SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM jobs) AS n`;
    assert.equal(afterwards[0]!.pid, during[0]!.pid, "same pooled session");
    assert.equal(afterwards[0]!.setting, "", "PostgreSQL leaves '' behind, which the policies treat as no tenant");
    assert.equal(afterwards[0]!.n, 0n);
  });

  test("the tenant-scoped client on a one-connection pool leaves nothing behind for the next user", async () => {
    const tenantA = createTenantClient(app, a.tenantId);
    const tenantB = createTenantClient(app, b.tenantId);
    assert.equal((await tenantA.job.findMany()).every((j) => j.tenantId === a.tenantId), true);
    const bJobs = await tenantB.job.findMany();
    assert.ok(bJobs.length > 0 && bJobs.every((j) => j.tenantId === b.tenantId));
    await tenantA.$transaction(async (tx) => tx.job.count());
    const leaked = await app.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM jobs`;
    assert.equal(leaked[0]!.n, 0n);
  });

  test("the app role cannot read migration bookkeeping or write tenants", async () => {
    await assert.rejects(app.$queryRaw`SELECT * FROM _prisma_migrations`, /permission denied/);
    await assert.rejects(
      app.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT set_config('app.tenant_id', ${a.tenantId}, true)`;
        await tx.$executeRaw`UPDATE tenants SET name = 'renamed' WHERE id = ${a.tenantId}::uuid`;
      }),
      /permission denied/,
    );
  });

  test("a row cannot point at another tenant's row, even through the owner (composite foreign keys)", async () => {
    await assert.rejects(
      t.db.system.adapter.create({
        data: {
          tenantId: a.tenantId, name: "cross", method: "PARM", baseModelId: b.modelId, dimensionIds: [], dimensionNames: [],
          r1: 1, r2: 1, loraAlpha: 1, targets: [], trainingConfig: {},
        },
      }),
      (error: unknown) => error instanceof Error && /Foreign key constraint|foreign key/i.test(error.message),
    );
    await assert.rejects(
      t.db.system.jobEvent.create({ data: { tenantId: a.tenantId, jobId: b.jobId, seq: 9n, type: "x", payload: {} } }),
      (error: unknown) => error instanceof Error && /Foreign key constraint|foreign key/i.test(error.message),
    );
  });

  test("deleting a tenant through the system client removes all its rows and leaves the other tenant's", async () => {
    const c = await seedTenant(t.db, "tenant-c");
    await t.db.system.tenant.delete({ where: { id: c.tenantId } });
    for (const table of tables) {
      const rows = await t.db.system.$queryRawUnsafe<{ n: bigint }[]>(
        `SELECT count(*) AS n FROM "${table}" WHERE tenant_id = $1::uuid`,
        c.tenantId,
      );
      assert.equal(rows[0]!.n, 0n, table);
    }
    assert.ok(await t.db.system.job.findUnique({ where: { id: a.jobId } }));
  });
});

describe("openDatabase refuses setups where RLS would not hold", () => {
  let t: TestDatabase;
  before(async () => {
    t = await createTestDatabase();
  });
  after(async () => {
    await t?.drop();
  });

  test("a tenant-owned table without FORCE ROW LEVEL SECURITY", async () => {
    const owner = new pg.Client({ connectionString: t.url });
    await owner.connect();
    try {
      await owner.query("ALTER TABLE jobs NO FORCE ROW LEVEL SECURITY");
      await assert.rejects(openDatabase({ url: t.url }), (error: unknown) => {
        assert.ok(error instanceof RlsMissingError);
        assert.equal(error.code, "DB_RLS_MISSING");
        assert.deepEqual(error.tables, ["jobs"]);
        return true;
      });
      await owner.query("ALTER TABLE jobs FORCE ROW LEVEL SECURITY");
      const reopened = await openDatabase({ url: t.url });
      await reopened.close();
    } finally {
      await owner.end();
    }
  });

  test("an app URL that logs in as a superuser", async () => {
    await assert.rejects(openDatabase({ url: t.url, appUrl: t.url }), (error: unknown) => {
      assert.ok(error instanceof UnsafeAppRoleError);
      assert.match(error.message, /superuser/);
      return true;
    });
  });
});
