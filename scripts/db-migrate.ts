/**
 * @module scripts/db-migrate — `npm run db:migrate` applies prisma/migrations to `DATABASE_URL` (or to the
 * embedded PostgreSQL under `PARM_DATA_DIR`, default ./.parm); `npm run db:migrate -- --create <name>` writes the
 * next migration folder from the diff between prisma/migrations/schema.snapshot.prisma and prisma/schema.prisma
 * (refusing when nothing changed) and then applies it. Prisma's native migrate engine is not needed
 * (docs/database.md). Options: `--create <name>`, `--no-apply` (with --create: write only),
 * `--migrations <dir>` and `--schema <file>` (other paths, for tests).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
// Direct imports (not the db index): the script never loads the generated Prisma client, which keeps it fast.
import { createMigration, defaultMigrationPaths, migrate, type MigrationPaths } from "../src/api/db/migrations.ts";
import { startEmbeddedPostgres } from "../src/api/db/embedded.ts";
import { DatabaseError } from "../src/api/db/errors.ts";
import type { Logger } from "../src/api/db/logger.ts";

const log: Logger = {
  debug() {},
  info: (message, fields) => console.log(`[db] ${message}${fields ? " " + JSON.stringify(fields) : ""}`),
  warn: (message, fields) => console.warn(`[db] ${message}${fields ? " " + JSON.stringify(fields) : ""}`),
  error: (message, fields) => console.error(`[db] ${message}${fields ? " " + JSON.stringify(fields) : ""}`),
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      create: { type: "string" },
      "no-apply": { type: "boolean", default: false },
      migrations: { type: "string" },
      schema: { type: "string" },
    },
    allowPositionals: false,
  });
  const paths: MigrationPaths = {
    migrationsDir: values.migrations !== undefined ? resolve(values.migrations) : defaultMigrationPaths.migrationsDir,
    schemaPath: values.schema !== undefined ? resolve(values.schema) : defaultMigrationPaths.schemaPath,
  };
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (url === undefined || url === "") {
    const server = await startEmbeddedPostgres(resolve(process.env.PARM_DATA_DIR ?? ".parm"), log);
    url = server.url;
    stop = () => server.stop();
  }
  try {
    if (values.create !== undefined) {
      const created = await createMigration({ url, name: values.create, paths, log });
      for (const folder of created.folders) console.log(`created ${folder}`);
      if (values["no-apply"]) return 0;
    }
    const { applied } = await migrate(url, log, paths);
    console.log(applied.length === 0 ? "database is up to date" : `applied ${applied.length} migration(s): ${applied.join(", ")}`);
    return 0;
  } catch (error) {
    if (error instanceof DatabaseError) {
      console.error(`db:migrate: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await stop?.();
  }
}

// The schema engine leaves a timer behind: exit explicitly (stack-notes §3).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
