/** @module api/context
 *  The per-operation GraphQL context and the authorization guards every resolver starts with.
 *
 *  Roles: the platform admin (PARM_ADMIN_KEY) manages tenants and may read any tenant's keys; a tenant key with
 *  role TENANT_ADMIN additionally manages its tenant's API keys and preference dimensions; MEMBER keys read
 *  everything of their tenant and run jobs (datasets, training, generation, evaluation) but cannot manage keys or
 *  dimensions. Tenant data is reached only through `tenantDb()` (tenant-scoped client, RLS enforced);
 *  `db.system` bypasses scoping and is for authentication and admin operations only. */
import type DataLoader from "dataloader";
import type { Registry } from "prom-client";
import type { Database, TenantDb } from "./db/index.ts";
import type { JobBus } from "../bus/index.ts";
import type { ApiPubSub } from "./pubsub/index.ts";
import type { Logger } from "./server/logger.ts";
import { ForbiddenError, UnauthenticatedError } from "./errors/index.ts";

export type TenantRole = "TENANT_ADMIN" | "MEMBER";

export interface AdminAuth {
  kind: "admin";
}
export interface TenantAuth {
  kind: "tenant";
  tenantId: string;
  keyId: string;
  role: TenantRole;
  /** Tenant.mutationsPerMinute at authentication time (rate limiting). */
  mutationsPerMinute: number;
}
export interface AnonymousAuth {
  kind: "anonymous";
}
export type AuthState = AdminAuth | TenantAuth | AnonymousAuth;

/**
 * Long-lived services resolvers use, built once per server. Empty here; modules add members by declaration
 * merging (`declare module "../context.ts" { interface ApiServices { datasets: DatasetService } }`) and the
 * server's `services` option builds them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ApiServices {}

/** What a service factory receives (once, at server start). */
export interface ServiceDeps {
  db: Database;
  bus: JobBus;
  pubSub: ApiPubSub;
  log: Logger;
  /** The server's Prometheus registry, for the service's own `parm_` metrics. */
  metricsRegistry: Registry;
}

/** Builds some members of ApiServices; the server merges every registered factory's result. */
export type ServiceFactory = (deps: ServiceDeps) => Partial<ApiServices>;

export interface ApiContext {
  auth: AuthState;
  db: Database;
  /** The caller tenant's scoped client (cached per operation). Throws FORBIDDEN for admin, UNAUTHENTICATED for anonymous. */
  tenantDb(): TenantDb;
  bus: JobBus;
  pubSub: ApiPubSub;
  services: ApiServices;
  /** Unique per operation (HTTP request or WebSocket subscribe). Also sent as `x-request-id` on HTTP. */
  requestId: string;
  /** Logger carrying requestId. */
  log: Logger;
  transport: "http" | "ws";
  /** A DataLoader memoised per operation under `name` (DataLoaders are never shared across requests). */
  loader<K, V>(name: string, create: () => DataLoader<K, V>): DataLoader<K, V>;
}

export function requireAuthenticated(ctx: Pick<ApiContext, "auth">): AdminAuth | TenantAuth {
  if (ctx.auth.kind === "anonymous") throw new UnauthenticatedError();
  return ctx.auth;
}

/** The caller's tenant auth; anonymous → UNAUTHENTICATED, the admin → FORBIDDEN (the admin acts on no tenant's data directly). */
export function requireTenant(ctx: Pick<ApiContext, "auth">): TenantAuth {
  const auth = requireAuthenticated(ctx);
  if (auth.kind !== "tenant") throw new ForbiddenError("this operation needs a tenant API key");
  return auth;
}

/** A tenant key with role TENANT_ADMIN. */
export function requireTenantAdmin(ctx: Pick<ApiContext, "auth">): TenantAuth {
  const auth = requireTenant(ctx);
  if (auth.role !== "TENANT_ADMIN") throw new ForbiddenError("this operation needs a TENANT_ADMIN key; this key is a MEMBER key");
  return auth;
}

/** The platform admin key. */
export function requireAdmin(ctx: Pick<ApiContext, "auth">): AdminAuth {
  const auth = requireAuthenticated(ctx);
  if (auth.kind !== "admin") throw new ForbiddenError("this operation needs the platform admin key");
  return auth;
}

export interface ContextDeps {
  db: Database;
  bus: JobBus;
  pubSub: ApiPubSub;
  services: ApiServices;
  log: Logger;
}

/** Builds an operation context for an authenticated caller. */
export function createContext(
  deps: ContextDeps,
  auth: AuthState,
  requestId: string,
  transport: "http" | "ws",
): ApiContext {
  let scoped: TenantDb | undefined;
  const loaders = new Map<string, unknown>();
  const log = childLogger(deps.log, { requestId });
  return {
    auth,
    db: deps.db,
    bus: deps.bus,
    pubSub: deps.pubSub,
    services: deps.services,
    requestId,
    log,
    transport,
    tenantDb() {
      const tenant = requireTenant({ auth });
      scoped ??= deps.db.forTenant(tenant.tenantId);
      return scoped;
    },
    loader<K, V>(name: string, create: () => DataLoader<K, V>): DataLoader<K, V> {
      let existing = loaders.get(name) as DataLoader<K, V> | undefined;
      if (!existing) {
        existing = create();
        loaders.set(name, existing);
      }
      return existing;
    },
  };
}

function childLogger(log: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => log.debug(m, { ...fields, ...f }),
    info: (m, f) => log.info(m, { ...fields, ...f }),
    warn: (m, f) => log.warn(m, { ...fields, ...f }),
    error: (m, f) => log.error(m, { ...fields, ...f }),
  };
}
