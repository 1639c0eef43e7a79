/**
 * @module test/db/embedded — the no-configuration start-up path: DATABASE_URL unset → embedded PostgreSQL under
 * PARM_DATA_DIR, migrated, app role ready; a second start reuses the same data.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabaseFromEnvironment } from "../../src/api/db/index.ts";

describe("openDatabaseFromEnvironment without DATABASE_URL", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "parm-data-"));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test("starts an embedded PostgreSQL under PARM_DATA_DIR, migrates it, and keeps data across restarts", async () => {
    const env = { PARM_DATA_DIR: dataDir, PARM_TEST: process.env.PARM_TEST };
    const first = await openDatabaseFromEnvironment(env);
    let tenantId: string;
    try {
      assert.equal(first.embedded, true);
      assert.match(first.url, /^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/parm$/);
      assert.ok(existsSync(join(dataDir, "postgres", "PG_VERSION")), "cluster lives under PARM_DATA_DIR");
      const state = JSON.parse(readFileSync(join(dataDir, "postgres.json"), "utf8")) as { password: string };
      assert.ok(state.password.length >= 24);
      assert.equal(statSync(join(dataDir, "postgres.json")).mode & 0o077, 0, "credentials file is private");
      const tenant = await first.system.tenant.create({ data: { name: "local" } });
      tenantId = tenant.id;
      const scoped = first.forTenant(tenantId);
      await scoped.job.create({ data: { tenantId, kind: "TRAIN", payload: {} } });
      assert.equal(await scoped.job.count(), 1);
    } finally {
      await first.close();
    }

    const second = await openDatabaseFromEnvironment(env);
    try {
      assert.equal(second.embedded, true);
      assert.deepEqual((await second.system.tenant.findMany()).map((t) => t.id), [tenantId]);
      assert.equal(await second.forTenant(tenantId).job.count(), 1);
    } finally {
      await second.close();
    }
  });
});
