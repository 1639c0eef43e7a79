/** @module api/db — PostgreSQL for the api: migrations, embedded server, app role + RLS, tenant scoping (docs/database.md). */
export { openDatabase, openDatabaseFromEnvironment, type Database, type OpenDatabaseOptions } from "./database.ts";
export { startEmbeddedPostgres, type EmbeddedPostgresOptions } from "./embedded.ts";
export { migrate, createMigration, defaultMigrationPaths, type MigrationPaths, type CreatedMigration } from "./migrations.ts";
export {
  assertTenantId,
  type TenantDb,
  type TenantTransactionClient,
  type TenantTransactionOptions,
} from "./tenant-scope.ts";
export { CURRENT_TENANT_SQL } from "./rls.ts";
export { jsonInput, storedJson } from "./json.ts";
export type { Logger } from "./logger.ts";
export * from "./errors.ts";
/** The generated Prisma client: PrismaClient, Prisma namespace, model types (Tenant, Job, …) and enums. */
export * from "./generated/client.ts";
