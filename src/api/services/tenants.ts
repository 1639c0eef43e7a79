/** @module api/services/tenants
 *  Creating tenants and changing their quotas (platform admin; suspension and deletion are tenant-lifecycle.ts).
 *  A tenant is created with its first TENANT_ADMIN key in one transaction; names are unique; the tenant's own job
 *  limits must lie within the contract's bounds (contracts/job-limits.ts JOB_LIMITS) and apply from the next
 *  request. */
import { JOB_LIMITS, type JobLimits } from "../../contracts/index.ts";
import { generateTenantKey } from "../auth/index.ts";
import type { ApiKey, Prisma, Tenant } from "../db/index.ts";
import { isUniqueViolation } from "../errors/index.ts";
import { EntityNotFoundError, InputValidationError, NameTakenError } from "./errors.ts";
import type { TenantAdminDeps } from "./tenant-lifecycle.ts";

/** The quotas and limits a create or update sets; null or absent: the default (create) or unchanged (update). */
export interface TenantQuotaCommand {
  maxConcurrentJobs?: number | null;
  maxDatasetBytes?: number | null;
  maxModelBytes?: number | null;
  mutationsPerMinute?: number | null;
  jobLimits?: { readonly [K in keyof JobLimits]?: number | null } | null;
}

export interface CreateTenantCommand extends TenantQuotaCommand {
  name: string;
  /** Name of the first TENANT_ADMIN key (default "admin"). */
  adminKeyName?: string | null;
}

export interface CreatedTenant {
  tenant: Tenant;
  apiKey: ApiKey;
  /** The key's secret, returned once. */
  secret: string;
}

/** The tenant's own job limits after `command` (its fields over `current`); InputValidationError naming the first
 *  one outside its contract bounds. */
function jobLimitsData(command: TenantQuotaCommand, current: Prisma.JsonValue | null): { jobLimits?: Prisma.InputJsonObject } {
  if (!command.jobLimits) return {};
  const merged: Record<string, number> = { ...((current ?? {}) as Record<string, number>) };
  for (const key of Object.keys(JOB_LIMITS) as (keyof JobLimits)[]) {
    const value = command.jobLimits[key];
    if (value === null || value === undefined) continue;
    const spec = JOB_LIMITS[key];
    if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
      throw new InputValidationError(`input.jobLimits.${key}`, `must be an integer in [${spec.min}, ${spec.max}], got ${value}`);
    }
    merged[key] = value;
  }
  return { jobLimits: merged };
}

/** The quota columns a command sets. */
function quotaData(command: TenantQuotaCommand) {
  return {
    ...(command.maxConcurrentJobs != null ? { maxConcurrentJobs: command.maxConcurrentJobs } : {}),
    ...(command.maxDatasetBytes != null ? { maxDatasetBytes: BigInt(Math.floor(command.maxDatasetBytes)) } : {}),
    ...(command.maxModelBytes != null ? { maxModelBytes: BigInt(Math.floor(command.maxModelBytes)) } : {}),
    ...(command.mutationsPerMinute != null ? { mutationsPerMinute: command.mutationsPerMinute } : {}),
  };
}

/** A new tenant and its first TENANT_ADMIN key; NameTakenError when the name is taken (also by a concurrent
 *  create). */
export async function createTenant(deps: Pick<TenantAdminDeps, "db" | "log">, command: CreateTenantCommand): Promise<CreatedTenant> {
  const system = deps.db.system;
  const taken = () => new NameTakenError("tenant", "input.name", command.name);
  if (await system.tenant.findUnique({ where: { name: command.name }, select: { id: true } })) throw taken();
  const limits = jobLimitsData(command, null);
  const generated = generateTenantKey();
  try {
    const { tenant, apiKey } = await system.$transaction(async (tx) => {
      const tenant = await tx.tenant.create({ data: { name: command.name, ...quotaData(command), ...limits } });
      const apiKey = await tx.apiKey.create({
        data: {
          tenantId: tenant.id,
          name: command.adminKeyName ?? "admin",
          prefix: generated.prefix,
          secretHash: generated.secretHash,
          role: "TENANT_ADMIN",
        },
      });
      return { tenant, apiKey };
    });
    deps.log.info("tenant created", { tenantId: tenant.id, keyId: apiKey.id });
    return { tenant, apiKey, secret: generated.key };
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
}

/** Changes a tenant's quotas and job limits. */
export async function updateTenant(deps: Pick<TenantAdminDeps, "db" | "log">, tenantId: string, command: TenantQuotaCommand): Promise<Tenant> {
  const system = deps.db.system;
  const existing = await system.tenant.findUnique({ where: { id: tenantId }, select: { id: true, jobLimits: true } });
  if (!existing) throw new EntityNotFoundError("Tenant", tenantId);
  const limits = jobLimitsData(command, existing.jobLimits);
  const tenant = await system.tenant.update({ where: { id: existing.id }, data: { ...quotaData(command), ...limits } });
  deps.log.info("tenant updated", { tenantId: tenant.id });
  return tenant;
}
