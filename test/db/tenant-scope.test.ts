/** @module test/db/tenant-scope — the tenant-scoped client against a real database, on the app role. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  InvalidTenantIdError,
  TenantOperationUnsupportedError,
  TenantScopeViolationError,
} from "../../src/api/db/index.ts";
import { createTestDatabase, seedTenant, type SeededTenant, type TestDatabase } from "../helpers/db.ts";

describe("Database.forTenant", () => {
  let t: TestDatabase;
  let a: SeededTenant;
  let b: SeededTenant;

  before(async () => {
    t = await createTestDatabase();
    a = await seedTenant(t.db, "scope-a");
    b = await seedTenant(t.db, "scope-b");
  });
  after(async () => {
    await t?.drop();
  });

  test("reads return only the tenant's rows", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const jobs = await ta.job.findMany();
    assert.equal(jobs.length, 3);
    assert.ok(jobs.every((j) => j.tenantId === a.tenantId));
    assert.equal(await ta.job.count(), 3);
    assert.equal(await t.db.system.job.count(), 6);
    assert.equal(await ta.job.findUnique({ where: { id: b.jobId } }), null);
    assert.equal(await ta.job.findFirst({ where: { id: b.jobId } }), null);
    await assert.rejects(ta.job.findUniqueOrThrow({ where: { id: b.jobId } }));
    assert.equal((await ta.job.findUnique({ where: { id: a.jobId } }))?.id, a.jobId);
    const groups = await ta.job.groupBy({ by: ["kind"], _count: { _all: true }, orderBy: { kind: "asc" } });
    assert.deepEqual(groups.map((g) => [g.kind, g._count._all]), [["TRAIN", 1], ["GENERATE", 1], ["EVALUATE", 1]]);
    const tenants = await ta.tenant.findMany();
    assert.deepEqual(tenants.map((x) => x.id), [a.tenantId]);
  });

  test("relations loaded through include stay inside the tenant", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const job = await ta.job.findUnique({ where: { id: a.jobId }, include: { events: true, tenant: true } });
    assert.equal(job?.tenant.id, a.tenantId);
    assert.deepEqual(job?.events.map((e) => e.id), [a.jobEventId]);
  });

  test("creates are stamped with the tenant; naming another tenant is refused", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const created = await ta.job.create({ data: { tenantId: ta.tenantId, kind: "TRAIN", payload: { from: "scope-test" } } });
    assert.equal(created.tenantId, a.tenantId);
    // Untyped callers may leave tenantId out: the extension stamps it.
    const many = await ta.preferenceDimension.createManyAndReturn({
      data: [{ name: "harmless", position: 1 }, { name: "honest", position: 2 }] as never,
    });
    assert.deepEqual(many.map((d) => d.tenantId), [a.tenantId, a.tenantId]);
    await assert.rejects(ta.job.create({ data: { kind: "TRAIN", payload: {}, tenantId: b.tenantId } }), TenantScopeViolationError);
    assert.equal(await t.db.system.job.count({ where: { tenantId: b.tenantId } }), 3);
    await ta.job.delete({ where: { id: created.id } });
    await ta.preferenceDimension.deleteMany({ where: { name: { in: ["harmless", "honest"] } } });
  });

  test("updates and deletes cannot reach another tenant's rows", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const updated = await ta.job.updateMany({ data: { error: "touched" } });
    assert.equal(updated.count, 3);
    assert.equal((await t.db.system.job.findUniqueOrThrow({ where: { id: b.jobId } })).error, null);
    await assert.rejects(ta.job.update({ where: { id: b.jobId }, data: { error: "x" } }));
    await assert.rejects(ta.apiKey.delete({ where: { id: b.apiKeyId } }));
    assert.equal((await ta.apiKey.deleteMany({ where: { id: b.apiKeyId } })).count, 0);
    assert.ok(await t.db.system.apiKey.findUnique({ where: { id: b.apiKeyId } }));
    await assert.rejects(ta.job.update({ where: { id: a.jobId }, data: { tenantId: b.tenantId } }), TenantScopeViolationError);
    await ta.job.updateMany({ data: { error: null } });
  });

  test("upsert creates in the tenant and never updates another tenant's row", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const row = await ta.preferenceDimension.upsert({
      where: { id: b.dimensionId },
      create: { tenantId: ta.tenantId, name: "upserted", position: 7 },
      update: { description: "hijacked" },
    });
    assert.equal(row.tenantId, a.tenantId);
    assert.notEqual(row.id, b.dimensionId);
    assert.equal((await t.db.system.preferenceDimension.findUniqueOrThrow({ where: { id: b.dimensionId } })).description, "");
    await ta.preferenceDimension.delete({ where: { id: row.id } });
  });

  test("a relation to another tenant's row is refused by the database", async () => {
    const ta = t.db.forTenant(a.tenantId);
    await assert.rejects(
      ta.adapter.create({
        data: {
          tenantId: ta.tenantId, name: "stolen-base", method: "PARM", baseModelId: b.modelId, dimensionIds: [], dimensionNames: [],
          r1: 1, r2: 1, loraAlpha: 1, targets: [], trainingConfig: {},
        },
      }),
    );
    assert.equal(await t.db.system.adapter.count({ where: { name: "stolen-base" } }), 0);
  });

  test("the tenants table is read-only through the tenant client", async () => {
    const ta = t.db.forTenant(a.tenantId);
    await assert.rejects(ta.tenant.update({ where: { id: a.tenantId }, data: { name: "x" } }), TenantOperationUnsupportedError);
    await assert.rejects(ta.tenant.create({ data: { name: "new" } }), TenantOperationUnsupportedError);
    assert.equal(await ta.tenant.findUnique({ where: { id: b.tenantId } }).catch((e: unknown) => e instanceof TenantScopeViolationError), true);
  });

  test("raw queries on the tenant client run under the tenant's RLS setting", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const rows = await ta.$queryRaw<{ tenant_id: string }[]>`SELECT DISTINCT tenant_id::text FROM jobs`;
    assert.deepEqual(rows.map((r) => r.tenant_id), [a.tenantId]);
  });

  test("an interactive transaction carries the setting and is atomic", async () => {
    const ta = t.db.forTenant(a.tenantId);
    const seen = await ta.$transaction(async (tx) => {
      const job = await tx.job.create({ data: { tenantId: ta.tenantId, kind: "GENERATE", payload: {} } });
      const [ids] = await tx.$queryRaw<{ setting: string; txid: string }[]>`
        SELECT current_setting('app.tenant_id', true) AS setting, txid_current()::text AS txid`;
      const [again] = await tx.$queryRaw<{ txid: string }[]>`SELECT txid_current()::text AS txid`;
      const raw = await tx.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM jobs`;
      return { job, setting: ids!.setting, sameTx: ids!.txid === again!.txid, rawCount: raw[0]!.n, count: await tx.job.count() };
    });
    assert.equal(seen.setting, a.tenantId);
    assert.equal(seen.sameTx, true);
    assert.equal(seen.job.tenantId, a.tenantId);
    assert.equal(seen.rawCount, 4n, "raw SQL in the transaction sees only the tenant's rows");
    assert.equal(seen.count, 4);
    await ta.job.delete({ where: { id: seen.job.id } });

    const before = await t.db.system.job.count();
    await assert.rejects(
      ta.transaction(async (tx) => {
        await tx.job.create({ data: { tenantId: ta.tenantId, kind: "TRAIN", payload: {} } });
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.equal(await t.db.system.job.count(), before, "the failed transaction left nothing");
  });

  test("the array form of $transaction is refused with a typed error", async () => {
    const ta = t.db.forTenant(a.tenantId);
    await assert.rejects(
      (ta.$transaction as unknown as (ops: unknown[]) => Promise<unknown>)([ta.job.count()]),
      TenantOperationUnsupportedError,
    );
  });

  test("concurrent clients of different tenants on a shared pool never mix", async () => {
    const clients = [a, b].map((s) => ({ s, db: t.db.forTenant(s.tenantId) }));
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => clients[i % 2]!).map(async ({ s, db }) => ({
        s,
        jobs: await db.job.findMany(),
        raw: await db.$queryRaw<{ tenant_id: string }[]>`SELECT tenant_id::text FROM api_keys`,
      })),
    );
    for (const { s, jobs, raw } of results) {
      assert.ok(jobs.length > 0 && jobs.every((j) => j.tenantId === s.tenantId));
      assert.ok(raw.length > 0 && raw.every((r) => r.tenant_id === s.tenantId));
    }
  });

  test("forTenant refuses a tenant id that is not a UUID", () => {
    assert.throws(() => t.db.forTenant("tenant-a"), InvalidTenantIdError);
    assert.equal(t.db.forTenant(a.tenantId.toUpperCase()).tenantId, a.tenantId);
  });
});
