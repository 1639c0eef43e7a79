/** @module api/services/api-keys
 *  Creating and revoking API keys of one tenant, for its TENANT_ADMIN or for the platform admin (who addresses
 *  the tenant; resolvers/api-key.ts decides which). A key's secret is returned once; only its hash is stored.
 *  A tenant admin cannot revoke the tenant's last active TENANT_ADMIN key; revoking a revoked key changes
 *  nothing. */
import { generateTenantKey } from "../auth/index.ts";
import type { Database, Prisma } from "../db/index.ts";
import type { Logger } from "../server/logger.ts";
import { EntityNotFoundError, InputValidationError } from "./errors.ts";

/** The columns of a key that may be shown (never the secret's hash). */
export const PUBLIC_API_KEY_FIELDS = {
  id: true,
  tenantId: true,
  name: true,
  prefix: true,
  role: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const satisfies Prisma.ApiKeySelect;

export type PublicApiKey = Prisma.ApiKeyGetPayload<{ select: typeof PUBLIC_API_KEY_FIELDS }>;

/** Delegate over api_keys: the system client's (platform admin) or the tenant's scoped client's. */
export type ApiKeyDelegate = Database["system"]["apiKey"];

/** Whose keys a call addresses and how. */
export interface ApiKeyScope {
  /** The tenant whose keys are addressed. */
  tenantId: string;
  apiKeys: ApiKeyDelegate;
  /** Set when the platform admin addresses the tenant: it must exist. */
  tenants?: Pick<Database["system"]["tenant"], "findUnique">;
  log: Logger;
}

export interface CreateApiKeyCommand {
  name: string;
  role: PublicApiKey["role"];
}

/** A new key of the scope's tenant and its secret (returned once). */
export async function createApiKey(scope: ApiKeyScope, command: CreateApiKeyCommand): Promise<{ apiKey: PublicApiKey; secret: string }> {
  if (scope.tenants && !(await scope.tenants.findUnique({ where: { id: scope.tenantId }, select: { id: true } }))) {
    throw new EntityNotFoundError("Tenant", scope.tenantId);
  }
  const generated = generateTenantKey();
  const apiKey = await scope.apiKeys.create({
    data: { tenantId: scope.tenantId, name: command.name, role: command.role, prefix: generated.prefix, secretHash: generated.secretHash },
    select: PUBLIC_API_KEY_FIELDS,
  });
  scope.log.info("api key created", { tenantId: scope.tenantId, keyId: apiKey.id, role: apiKey.role });
  return { apiKey, secret: generated.key };
}

/** Revokes the key `id` among `apiKeys`; `revokedNow` is false when it was already revoked. `byTenantAdmin`: the
 *  caller is the tenant's admin, who may not revoke the last active TENANT_ADMIN key. */
export async function revokeApiKey(
  apiKeys: ApiKeyDelegate,
  id: string,
  byTenantAdmin: boolean,
): Promise<{ apiKey: PublicApiKey; revokedNow: boolean }> {
  const key = await apiKeys.findFirst({ where: { id }, select: PUBLIC_API_KEY_FIELDS });
  if (!key) throw new EntityNotFoundError("ApiKey", id);
  if (key.revokedAt !== null) return { apiKey: key, revokedNow: false };
  if (byTenantAdmin && key.role === "TENANT_ADMIN") {
    const otherAdmins = await apiKeys.count({ where: { tenantId: key.tenantId, role: "TENANT_ADMIN", revokedAt: null, id: { not: key.id } } });
    if (otherAdmins === 0) {
      throw new InputValidationError("input.id", "cannot revoke the tenant's last active TENANT_ADMIN key: create another TENANT_ADMIN key first");
    }
  }
  const revoked = await apiKeys.update({ where: { id: key.id }, data: { revokedAt: new Date() }, select: PUBLIC_API_KEY_FIELDS });
  return { apiKey: revoked, revokedNow: true };
}
