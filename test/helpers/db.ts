/**
 * @module test/helpers/db — a fresh, migrated PostgreSQL database per test file, on the server named by
 * `DATABASE_URL` (a superuser URL; `node scripts/test.mjs` starts one). The first call on a server migrates a
 * template database (`parm_test_template_<hash of prisma/migrations>`, built once under an advisory lock, shared
 * by concurrent test processes); each database is then `CREATE DATABASE … TEMPLATE`, which is fast. `drop()` closes
 * the clients and drops the database.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { defaultMigrationPaths, migrate, openDatabase, type Database } from "../../src/api/db/index.ts";

export interface TestDatabase {
  /** Superuser (owner) URL of the new database. */
  url: string;
  db: Database;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === "") {
    throw new Error("DATABASE_URL is not set: run tests with `node scripts/test.mjs <folder>`, which starts PostgreSQL");
  }
  return url;
}

/** The same server's URL for another database. */
export function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Digest of every migration file, so a changed migration builds a new template. */
function migrationsDigest(dir: string): string {
  const hash = createHash("sha256");
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(name).update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest("hex").slice(0, 12);
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

let templateReady: Promise<string> | undefined;

/** Builds the template once per server (advisory lock on the admin database serialises concurrent processes). */
function ensureTemplate(): Promise<string> {
  templateReady ??= withAdmin(async (admin) => {
    const name = `parm_test_template_${migrationsDigest(defaultMigrationPaths.migrationsDir)}`;
    await admin.query("SELECT pg_advisory_lock(hashtext($1))", [name]);
    try {
      const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (found.rowCount === 0) {
        const building = `${name}_building_${randomBytes(4).toString("hex")}`;
        await admin.query(`CREATE DATABASE "${building}"`);
        await migrate(urlForDatabase(serverUrl(), building));
        await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
      }
      return name;
    } finally {
      await admin.query("SELECT pg_advisory_unlock(hashtext($1))", [name]);
    }
  });
  return templateReady;
}

/** Creates a uniquely named database from the migrated template and opens it (app role ready). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = `parm_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  const url = urlForDatabase(serverUrl(), name);
  const db = await openDatabase({ url, poolSize: 4 });
  let dropped = false;
  return {
    url,
    db,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.close();
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** An empty (unmigrated) database on the test server, for migration tests. */
export async function createEmptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `parm_test_empty_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE "${name}"`));
  return {
    url: urlForDatabase(serverUrl(), name),
    drop: () => withAdmin(async (admin) => void (await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
  };
}

/** Ids of one row in every tenant-owned table, as created by seedTenant. */
export interface SeededTenant {
  tenantId: string;
  apiKeyId: string;
  dimensionId: string;
  datasetId: string;
  recordId: string;
  modelId: string;
  adapterId: string;
  jobId: string;
  jobEventId: string;
  generationId: string;
  evaluationId: string;
  paretoPointId: string;
}

/** Creates a tenant named `name` with one row in every tenant-owned table, through the system client. */
export async function seedTenant(db: Database, name: string): Promise<SeededTenant> {
  const s = db.system;
  const tenant = await s.tenant.create({ data: { name } });
  const tenantId = tenant.id;
  const apiKey = await s.apiKey.create({
    data: { tenantId, name: "ci", prefix: `pk_${name}`, secretHash: `hash-${name}-${randomBytes(4).toString("hex")}`, role: "TENANT_ADMIN" },
  });
  const dimension = await s.preferenceDimension.create({ data: { tenantId, name: "helpful", position: 0 } });
  const dataset = await s.dataset.create({
    data: { tenantId, name: `ds-${name}`, format: "GENERIC", dimensionMap: { label: dimension.id }, splitRatios: [0.8, 0.1, 0.1] },
  });
  const record = await s.datasetRecord.create({
    data: {
      tenantId, datasetId: dataset.id, line: 1, prompt: "p", response0: "a", response1: "b",
      preferences: { [dimension.id]: 0 }, split: "TRAIN", pairHash: "h",
    },
  });
  const model = await s.model.create({ data: { tenantId, name: `m-${name}`, kind: "BASE", format: "GGUF", location: "/models/x.gguf" } });
  const adapter = await s.adapter.create({
    data: {
      tenantId, name: `a-${name}`, method: "PARM", baseModelId: model.id, dimensionIds: [dimension.id],
      dimensionNames: ["helpful"], r1: 4, r2: 4, loraAlpha: 8, targets: ["q_proj"], trainingConfig: {},
    },
  });
  const job = await s.job.create({ data: { tenantId, kind: "TRAIN", payload: { name } } });
  const jobEvent = await s.jobEvent.create({ data: { tenantId, jobId: job.id, seq: 1n, type: "progress", payload: {} } });
  const generationJob = await s.job.create({ data: { tenantId, kind: "GENERATE", payload: {} } });
  const generation = await s.generation.create({
    data: { tenantId, jobId: generationJob.id, baseModelId: model.id, prompt: "hi", alphas: [[0.5, 0.5]], beta: 1, sampling: {}, maxTokens: 8 },
  });
  const evaluationJob = await s.job.create({ data: { tenantId, kind: "EVALUATE", payload: {} } });
  const evaluation = await s.evaluation.create({
    data: { tenantId, jobId: evaluationJob.id, adapterId: adapter.id, gridStep: 0.1, promptCount: 2, evaluatorIds: [], referencePoint: [0, 0] },
  });
  const point = await s.paretoPoint.create({
    data: { tenantId, evaluationId: evaluation.id, index: 0, alpha: [1, 0], rewards: [0.5, 0.2] },
  });
  return {
    tenantId, apiKeyId: apiKey.id, dimensionId: dimension.id, datasetId: dataset.id, recordId: record.id,
    modelId: model.id, adapterId: adapter.id, jobId: job.id, jobEventId: jobEvent.id, generationId: generation.id,
    evaluationId: evaluation.id, paretoPointId: point.id,
  };
}
