/** @module api/db/errors — typed failures of the database layer; each carries a stable `code`. */

export type DbErrorCode =
  | "DB_CONFIG_INVALID"
  | "DB_MIGRATION_FAILED"
  | "DB_MIGRATION_NO_CHANGES"
  | "DB_MIGRATION_NAME_INVALID"
  | "DB_SCHEMA_ENGINE_FAILED"
  | "DB_APP_ROLE_UNSAFE"
  | "DB_RLS_MISSING"
  | "DB_TENANT_ID_INVALID"
  | "DB_TENANT_SCOPE_VIOLATION"
  | "DB_TENANT_OPERATION_UNSUPPORTED"
  | "DB_EMBEDDED_POSTGRES_FAILED";

/** Base class of every error this module throws on purpose. */
export class DatabaseError extends Error {
  readonly code: DbErrorCode;
  constructor(code: DbErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A connection string, data directory or option is missing or malformed. */
export class DatabaseConfigError extends DatabaseError {
  constructor(message: string, options?: ErrorOptions) {
    super("DB_CONFIG_INVALID", message, options);
  }
}

/** The Prisma schema engine (WebAssembly) rejected a request: bad SQL, bad schema, failed migration. */
export class SchemaEngineError extends DatabaseError {
  constructor(message: string, options?: ErrorOptions) {
    super("DB_SCHEMA_ENGINE_FAILED", message, options);
  }
}

/** Applying migrations failed; `migration` names the folder when the engine reported one. */
export class MigrationFailedError extends DatabaseError {
  constructor(message: string, readonly migration?: string, options?: ErrorOptions) {
    super("DB_MIGRATION_FAILED", message, options);
  }
}

/** `--create` found no difference between the snapshot and prisma/schema.prisma. */
export class NoSchemaChangesError extends DatabaseError {
  constructor() {
    super("DB_MIGRATION_NO_CHANGES", "prisma/schema.prisma has no changes since the last migration: nothing to create");
  }
}

/** A migration name must be lower-case letters, digits and underscores. */
export class MigrationNameError extends DatabaseError {
  constructor(name: string) {
    super(
      "DB_MIGRATION_NAME_INVALID",
      `migration name ${JSON.stringify(name)} is invalid: use 1-60 characters of a-z, 0-9 and _ starting with a letter`,
    );
  }
}

/** The application role could bypass row-level security (superuser, BYPASSRLS, or a table owner). */
export class UnsafeAppRoleError extends DatabaseError {
  constructor(message: string) {
    super("DB_APP_ROLE_UNSAFE", message);
  }
}

/** A tenant-owned table lacks ENABLE + FORCE ROW LEVEL SECURITY or its tenant policy. */
export class RlsMissingError extends DatabaseError {
  constructor(readonly tables: string[]) {
    super("DB_RLS_MISSING", `row-level security is not enabled and forced on tenant-owned table(s): ${tables.join(", ")}`);
  }
}

/** `forTenant` was given something that is not a UUID. */
export class InvalidTenantIdError extends DatabaseError {
  constructor(value: unknown) {
    super("DB_TENANT_ID_INVALID", `tenant id must be a UUID, got ${JSON.stringify(String(value)).slice(0, 80)}`);
  }
}

/** A tenant-scoped write named another tenant, or tried to touch a field scoping owns. */
export class TenantScopeViolationError extends DatabaseError {
  constructor(message: string) {
    super("DB_TENANT_SCOPE_VIOLATION", message);
  }
}

/** An operation the tenant-scoped client does not offer (e.g. writing the tenants table). */
export class TenantOperationUnsupportedError extends DatabaseError {
  constructor(message: string) {
    super("DB_TENANT_OPERATION_UNSUPPORTED", message);
  }
}

/** The embedded PostgreSQL server could not be initialised or started. */
export class EmbeddedPostgresError extends DatabaseError {
  constructor(message: string, options?: ErrorOptions) {
    super("DB_EMBEDDED_POSTGRES_FAILED", message, options);
  }
}
