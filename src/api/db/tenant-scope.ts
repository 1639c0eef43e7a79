/**
 * @module api/db/tenant-scope — the one place tenant scoping happens (conventions.md §3).
 *
 * `createTenantClient(app, tenantId)` returns the client every tenant-facing code path uses. It layers two
 * Prisma client extensions over the app-role client (a role that is neither table owner nor BYPASSRLS):
 * 1. `scopeArgs` rewrites each model operation: `tenantId` is added to every `where` (`id` for the tenants table)
 *    and to every created row; a `where` or row naming another tenant, or a relation write to `tenant`, throws
 *    TenantScopeViolationError; writes to the tenants table throw TenantOperationUnsupportedError.
 * 2. every operation (model or raw) runs in its own transaction that first runs
 *    `SELECT set_config('app.tenant_id', <id>, true)`, so PostgreSQL's row-level security sees the tenant. The
 *    setting is transaction-local: a pooled connection returns to the pool without it (it then reads `''`,
 *    which the policies map to NULL: no row).
 *
 * Transactions: a caller's interactive transaction must carry the setting too, so `TenantDb.$transaction(fn)`
 * (alias `transaction(fn)`) opens ONE transaction, sets `app.tenant_id` first, and hands `fn` a client with layer 1
 * only (every statement then runs in that transaction). The array form `$transaction([...])` is refused
 * (TenantOperationUnsupportedError): its operations were built on the wrapping client and would each open their
 * own transaction. Nested writes (`records: { create: [...] }`) are not rewritten: give their rows `tenantId`
 * yourself (RLS's WITH CHECK and the composite foreign keys reject any other tenant). Write relations through
 * their scalar ids (`datasetId`), not `connect`, since the injected `tenantId` makes Prisma use unchecked inputs.
 */
import { UnreachableCaseError } from "../../contracts/index.ts";
import { Prisma, type PrismaClient } from "./generated/client.ts";
import { InvalidTenantIdError, TenantOperationUnsupportedError, TenantScopeViolationError } from "./errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Returns the tenant id lower-cased, or throws InvalidTenantIdError when it is not a UUID. */
export function assertTenantId(value: unknown): string {
  if (typeof value !== "string" || !UUID.test(value)) throw new InvalidTenantIdError(value);
  return value.toLowerCase();
}

/** The model whose rows ARE tenants; scoped on `id`, read-only for tenants. */
const TENANT_MODEL = "Tenant";

/** Every model operation Prisma 7 offers; anything else is refused rather than passed through unscoped. */
export const MODEL_OPERATIONS = [
  "findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany",
  "create", "createMany", "createManyAndReturn",
  "update", "updateMany", "updateManyAndReturn", "upsert",
  "delete", "deleteMany",
  "aggregate", "count", "groupBy",
] as const;
export type ModelOperation = (typeof MODEL_OPERATIONS)[number];

function isModelOperation(operation: string): operation is ModelOperation {
  return (MODEL_OPERATIONS as readonly string[]).includes(operation);
}

type Args = Record<string, unknown>;

function sameTenant(value: unknown, tenantId: string): boolean {
  return typeof value === "string" && value.toLowerCase() === tenantId;
}

/** Adds the tenant key to a `where`; a `where` naming a different value (or a filter object) is a violation. */
function scopeWhere(model: string, where: unknown, tenantId: string): Args {
  const key = model === TENANT_MODEL ? "id" : "tenantId";
  const base: Args = where === undefined || where === null ? {} : { ...(where as Args) };
  if (base[key] === undefined) return { ...base, [key]: tenantId };
  if (sameTenant(base[key], tenantId)) return { ...base, [key]: tenantId };
  throw new TenantScopeViolationError(
    `${model} query filters ${key} = ${JSON.stringify(base[key])}, but this client is scoped to tenant ${tenantId}`,
  );
}

/** Adds `tenantId` to a row being created; another tenant's id or a `tenant` relation write is a violation. */
function scopeCreateData(model: string, data: unknown, tenantId: string): Args {
  const row: Args = { ...(data as Args) };
  if (row.tenant !== undefined) {
    throw new TenantScopeViolationError(`${model} write sets the tenant relation; the tenant-scoped client sets tenantId itself`);
  }
  if (row.tenantId !== undefined && !sameTenant(row.tenantId, tenantId)) {
    throw new TenantScopeViolationError(
      `${model} row names tenantId ${JSON.stringify(row.tenantId)}, but this client is scoped to tenant ${tenantId}`,
    );
  }
  row.tenantId = tenantId;
  return row;
}

/** An update may not move a row to another tenant. */
function checkUpdateData(model: string, data: unknown, tenantId: string): void {
  const row = (data ?? {}) as Args;
  if (row.tenant !== undefined) {
    throw new TenantScopeViolationError(`${model} update changes the tenant relation; rows cannot change tenant`);
  }
  if (row.tenantId !== undefined && !sameTenant(row.tenantId, tenantId)) {
    throw new TenantScopeViolationError(`${model} update sets tenantId ${JSON.stringify(row.tenantId)}; rows cannot change tenant`);
  }
}

/**
 * The arguments of one model operation, rewritten so that it can only read or write `tenantId`'s rows.
 * Pure; exported for unit tests.
 */
export function scopeArgs(model: string, operation: string, args: unknown, tenantId: string): Args {
  const input: Args = args === undefined || args === null ? {} : { ...(args as Args) };
  if (!isModelOperation(operation)) {
    throw new TenantOperationUnsupportedError(`operation ${model}.${operation} is not supported by the tenant-scoped client`);
  }
  if (model === TENANT_MODEL) {
    switch (operation) {
      case "findUnique": case "findUniqueOrThrow": case "findFirst": case "findFirstOrThrow": case "findMany":
      case "aggregate": case "count": case "groupBy":
        return { ...input, where: scopeWhere(model, input.where, tenantId) };
      default:
        throw new TenantOperationUnsupportedError(`tenants are administered through the system client: ${model}.${operation} is not allowed here`);
    }
  }
  switch (operation) {
    case "findUnique": case "findUniqueOrThrow": case "findFirst": case "findFirstOrThrow": case "findMany":
    case "aggregate": case "count": case "groupBy": case "delete": case "deleteMany":
      return { ...input, where: scopeWhere(model, input.where, tenantId) };
    case "create":
      return { ...input, data: scopeCreateData(model, input.data, tenantId) };
    case "createMany": case "createManyAndReturn": {
      const data = input.data;
      return {
        ...input,
        data: Array.isArray(data) ? data.map((row) => scopeCreateData(model, row, tenantId)) : scopeCreateData(model, data, tenantId),
      };
    }
    case "update": case "updateMany": case "updateManyAndReturn":
      checkUpdateData(model, input.data, tenantId);
      return { ...input, where: scopeWhere(model, input.where, tenantId) };
    case "upsert":
      checkUpdateData(model, input.update, tenantId);
      return {
        ...input,
        where: scopeWhere(model, input.where, tenantId),
        create: scopeCreateData(model, input.create, tenantId),
      };
    default:
      throw new UnreachableCaseError(operation);
  }
}

/** Layer 1: argument scoping only (used directly inside a tenant transaction). */
function scopeExtension(tenantId: string) {
  return Prisma.defineExtension({
    name: "parm-tenant-scope",
    query: {
      $allModels: {
        $allOperations({ model, operation, args, query }) {
          return query(scopeArgs(model, operation, args, tenantId) as typeof args);
        },
      },
    },
  });
}

/** The statement that makes PostgreSQL's RLS see `tenantId` for the rest of the current transaction. */
function setTenantSql(client: { $executeRaw: PrismaClient["$executeRaw"] }, tenantId: string) {
  return client.$executeRaw`SELECT set_config('app.tenant_id', ${tenantId}, true)`;
}

/** Options of an interactive tenant transaction (Prisma's own). */
export interface TenantTransactionOptions {
  maxWait?: number;
  timeout?: number;
  isolationLevel?: Prisma.TransactionIsolationLevel;
}

function buildScopedClient(app: PrismaClient, tenantId: string) {
  return app.$extends(scopeExtension(tenantId));
}

/** The client handed to a tenant transaction's callback: scoped arguments, inside one transaction. */
export type TenantTransactionClient = Omit<
  ReturnType<typeof buildScopedClient>,
  "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends"
>;

/** Creates the tenant-scoped client over the app-role client `app` (see the module comment for the contract). */
export function createTenantClient(app: PrismaClient, rawTenantId: string) {
  const tenantId = assertTenantId(rawTenantId);
  const scoped = buildScopedClient(app, tenantId);

  function transaction<R>(fn: (tx: TenantTransactionClient) => Promise<R>, options?: TenantTransactionOptions): Promise<R>;
  function transaction(arg: unknown, options?: TenantTransactionOptions): Promise<unknown> {
    if (typeof arg !== "function") {
      return Promise.reject(
        new TenantOperationUnsupportedError(
          "the tenant-scoped client supports only interactive transactions: use $transaction(async (tx) => …)",
        ),
      );
    }
    const fn = arg as (tx: TenantTransactionClient) => Promise<unknown>;
    return scoped.$transaction(async (tx) => {
      await setTenantSql(tx, tenantId);
      return fn(tx);
    }, options);
  }

  return scoped.$extends({
    name: "parm-tenant-setting",
    client: {
      /** The tenant every statement of this client is scoped to. */
      tenantId,
      /** One interactive transaction with `app.tenant_id` set before `fn` runs (alias of `$transaction`). */
      transaction,
      $transaction: transaction,
    },
    query: {
      $allOperations({ args, query }) {
        return app.$transaction([setTenantSql(app, tenantId), query(args)]).then((results) => results[1]);
      },
    },
  });
}

export type TenantDb = ReturnType<typeof createTenantClient>;
