/** @module api/resolvers/tenant
 *  Tenants: `tenants` (connection) and `createTenant` are for the platform admin. A tenant key sees its own tenant
 *  through `viewer.tenant` and `node(id:)`. `createTenant` creates the tenant and its first TENANT_ADMIN key in one
 *  transaction and returns the key's secret once; `updateTenant` changes quotas (they apply from the next request);
 *  `suspendTenant` suspends or resumes a tenant and `deleteTenant` deletes one (services/tenant-lifecycle.ts). */
import { Arg, Args, Ctx, FieldResolver, Float, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import {
  ConnectionArgs,
  CreateTenantInput,
  CreateTenantPayload,
  CreateTenantSuccess,
  DeleteTenantInput,
  DeleteTenantPayload,
  DeleteTenantSuccess,
  JobLimits,
  SuspendTenantInput,
  SuspendTenantPayload,
  SuspendTenantSuccess,
  Tenant,
  TenantConnection,
  NotFoundError,
  UpdateTenantInput,
  UpdateTenantPayload,
  UpdateTenantSuccess,
  ValidationError,
  paginate,
  toGlobalId,
  type ConnectionResult,
} from "../../schema/index.ts";
import { DEFAULT_JOB_LIMITS, JOB_LIMITS, tenantJobLimits, type JobLimits as JobLimitsValues } from "../../contracts/index.ts";
import type { Prisma } from "../db/index.ts";
import { generateTenantKey } from "../auth/index.ts";
import { requireAdmin, type ApiContext } from "../context.ts";
import { UnreachableCaseError, isUniqueViolation } from "../errors/index.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";
import { decodeIdInput } from "./node-ids.ts";
import { toPayloadError } from "../services/payload-errors.ts";
import { deleteTenant, suspendTenant, type TenantAdminDeps } from "../services/tenant-lifecycle.ts";

export interface TenantRow {
  id: string;
  name: string;
  maxConcurrentJobs: number;
  maxDatasetBytes: bigint;
  maxModelBytes: bigint;
  jobLimits: unknown;
  mutationsPerMinute: number;
  suspendedAt: Date | null;
  createdAt: Date;
}

async function tenantKeyIds(ctx: ApiContext, tenantId: string): Promise<string[]> {
  return (await ctx.db.system.apiKey.findMany({ where: { tenantId }, select: { id: true } })).map((key) => key.id);
}

/** Ends the open WebSocket connections of a withdrawn tenant's keys in this process (other api processes close
 *  them by their re-check, server/live-sockets.ts). */
async function closeTenantSockets(ctx: ApiContext, keyIds: string[], reason: string): Promise<void> {
  const closed = ctx.services.liveSockets?.closeSocketsOf(keyIds, reason) ?? 0;
  if (closed > 0) ctx.log.info("closed the sockets of a withdrawn tenant", { sockets: closed });
}

/** What the tenant lifecycle services need, from the admin's context. */
function tenantAdminDeps(ctx: ApiContext): TenantAdminDeps {
  return {
    db: ctx.db,
    bus: ctx.bus,
    log: ctx.log,
    pubSub: ctx.pubSub,
    modelFiles: ctx.services.modelFiles,
    snapshots: ctx.services.datasetSnapshots,
  };
}

/**
 * The tenant's own job limits after `input` (its fields over `current`), or a ValidationError naming the first one
 * outside its contract bounds (contracts/job-limits.ts JOB_LIMITS).
 */
function jobLimitsData(input: CreateTenantInput | UpdateTenantInput, current: unknown): { jobLimits?: Prisma.InputJsonObject } | ValidationError {
  if (!input.jobLimits) return {};
  const merged: Record<string, number> = { ...((current ?? {}) as Record<string, number>) };
  for (const key of Object.keys(JOB_LIMITS) as (keyof JobLimitsValues)[]) {
    const value = input.jobLimits[key];
    if (value === null || value === undefined) continue;
    const spec = JOB_LIMITS[key];
    if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
      return new ValidationError({ field: `input.jobLimits.${key}`, message: `must be an integer in [${spec.min}, ${spec.max}], got ${value}` });
    }
    merged[key] = value;
  }
  return { jobLimits: merged };
}

/** The quota columns an input sets (null or omitted: default / unchanged). */
function quotaData(input: CreateTenantInput | UpdateTenantInput) {
  return {
    ...(input.maxConcurrentJobs != null ? { maxConcurrentJobs: input.maxConcurrentJobs } : {}),
    ...(input.maxDatasetBytes != null ? { maxDatasetBytes: BigInt(Math.floor(input.maxDatasetBytes)) } : {}),
    ...(input.maxModelBytes != null ? { maxModelBytes: BigInt(Math.floor(input.maxModelBytes)) } : {}),
    ...(input.mutationsPerMinute != null ? { mutationsPerMinute: input.mutationsPerMinute } : {}),
  };
}

export const tenantNode: NodeTypeRegistration = {
  typeName: "Tenant",
  async load(ctx, uuid) {
    switch (ctx.auth.kind) {
      case "admin":
        return await ctx.db.system.tenant.findUnique({ where: { id: uuid } });
      case "tenant":
        return uuid === ctx.auth.tenantId ? await ctx.tenantDb().tenant.findFirst({ where: { id: uuid } }) : null;
      case "anonymous":
        return null;
      default:
        throw new UnreachableCaseError(ctx.auth);
    }
  },
};

@Resolver(() => Tenant)
export class TenantResolver {
  @FieldResolver(() => ID)
  id(@Root() tenant: TenantRow): string {
    return toGlobalId("Tenant", tenant.id);
  }

  @FieldResolver(() => Float)
  maxDatasetBytes(@Root() tenant: TenantRow): number {
    return Number(tenant.maxDatasetBytes);
  }

  @FieldResolver(() => Float)
  maxModelBytes(@Root() tenant: TenantRow): number {
    return Number(tenant.maxModelBytes);
  }

  @FieldResolver(() => JobLimits)
  jobLimits(@Root() tenant: TenantRow, @Ctx() ctx: ApiContext): JobLimitsValues {
    return tenantJobLimits(ctx.services.jobLimits ?? DEFAULT_JOB_LIMITS, tenant.jobLimits);
  }

  @Query(() => TenantConnection, { description: "Platform admin: all tenants, newest first." })
  async tenants(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<TenantRow>> {
    requireAdmin(ctx);
    return paginate(args, (q) => ctx.db.system.tenant.findMany({ where: q.where, orderBy: q.orderBy, take: q.take }));
  }

  @Mutation(() => CreateTenantPayload, { description: "Platform admin: a new tenant and its first TENANT_ADMIN key." })
  async createTenant(
    @Arg("input", () => CreateTenantInput) input: CreateTenantInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateTenantPayload> {
    requireAdmin(ctx);
    const taken = () =>
      new ValidationError({ field: "input.name", message: `a tenant named "${input.name}" already exists` });
    if (await ctx.db.system.tenant.findUnique({ where: { name: input.name }, select: { id: true } })) return taken();
    const limits = jobLimitsData(input, null);
    if (limits instanceof ValidationError) return limits;
    const generated = generateTenantKey();
    try {
      const { tenant, apiKey } = await ctx.db.system.$transaction(async (tx) => {
        const tenant = await tx.tenant.create({
          data: {
            name: input.name,
            ...quotaData(input),
            ...limits,
          },
        });
        const apiKey = await tx.apiKey.create({
          data: {
            tenantId: tenant.id,
            name: input.adminKeyName ?? "admin",
            prefix: generated.prefix,
            secretHash: generated.secretHash,
            role: "TENANT_ADMIN",
          },
        });
        return { tenant, apiKey };
      });
      ctx.log.info("tenant created", { tenantId: tenant.id, keyId: apiKey.id });
      return new CreateTenantSuccess({
        tenant: tenant as unknown as Tenant,
        apiKey: apiKey as unknown as CreateTenantSuccess["apiKey"],
        secret: generated.key,
      });
    } catch (error) {
      if (isUniqueViolation(error)) return taken();
      throw error;
    }
  }

  @Mutation(() => UpdateTenantPayload, { description: "Platform admin: change a tenant's quotas." })
  async updateTenant(
    @Arg("input", () => UpdateTenantInput) input: UpdateTenantInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof UpdateTenantPayload> {
    requireAdmin(ctx);
    const decoded = decodeIdInput(input.id, "Tenant", "input.id");
    if (!decoded.ok) return decoded.error;
    const existing = await ctx.db.system.tenant.findUnique({ where: { id: decoded.uuid }, select: { id: true, jobLimits: true } });
    if (!existing) return new NotFoundError({ id: input.id, message: `no tenant with id "${input.id}"` });
    const limits = jobLimitsData(input, existing.jobLimits);
    if (limits instanceof ValidationError) return limits;
    const tenant = await ctx.db.system.tenant.update({
      where: { id: existing.id },
      data: {
        ...quotaData(input),
        ...limits,
      },
    });
    ctx.log.info("tenant updated", { tenantId: tenant.id });
    return new UpdateTenantSuccess({ tenant: tenant as unknown as Tenant });
  }

  @Mutation(() => SuspendTenantPayload, {
    description: "Platform admin: suspend a tenant (its keys are refused, its active jobs cancelled, it starts no jobs) or resume it.",
  })
  async suspendTenant(@Arg("input", () => SuspendTenantInput) input: SuspendTenantInput, @Ctx() ctx: ApiContext): Promise<typeof SuspendTenantPayload> {
    requireAdmin(ctx);
    const decoded = decodeIdInput(input.id, "Tenant", "input.id");
    if (!decoded.ok) return decoded.error;
    try {
      const { tenant, cancelledJobIds } = await suspendTenant(tenantAdminDeps(ctx), decoded.uuid, input.suspended);
      if (input.suspended) await closeTenantSockets(ctx, await tenantKeyIds(ctx, decoded.uuid), "Forbidden: tenant suspended");
      return new SuspendTenantSuccess({ tenant: tenant as unknown as Tenant, cancelledJobIds: cancelledJobIds.map((id) => toGlobalId("Job", id)) });
    } catch (error) {
      return toPayloadError(error) as typeof SuspendTenantPayload;
    }
  }

  @Mutation(() => DeleteTenantPayload, {
    description: "Platform admin: delete a tenant with everything it owns and its stored files; refused while it has QUEUED or RUNNING jobs.",
  })
  async deleteTenant(@Arg("input", () => DeleteTenantInput) input: DeleteTenantInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteTenantPayload> {
    requireAdmin(ctx);
    const decoded = decodeIdInput(input.id, "Tenant", "input.id");
    if (!decoded.ok) return decoded.error;
    try {
      const keyIds = await tenantKeyIds(ctx, decoded.uuid);
      await deleteTenant(tenantAdminDeps(ctx), decoded.uuid);
      await closeTenantSockets(ctx, keyIds, "Forbidden: tenant deleted");
      return new DeleteTenantSuccess({ deletedId: input.id });
    } catch (error) {
      return toPayloadError(error) as typeof DeleteTenantPayload;
    }
  }
}
