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
  UpdateTenantInput,
  UpdateTenantPayload,
  UpdateTenantSuccess,
  paginate,
  toGlobalId,
  type ConnectionResult,
} from "../../schema/index.ts";
import { DEFAULT_JOB_LIMITS, tenantJobLimits, type JobLimits as JobLimitsValues } from "../../contracts/index.ts";
import type { Tenant as TenantRow } from "../db/index.ts";
import { requireAdmin, type ApiContext } from "../context.ts";
import { UnreachableCaseError } from "../errors/index.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";
import { inputId } from "./node-ids.ts";
import { asPayload } from "../services/payload-errors.ts";
import { deleteTenant, suspendTenant, type TenantAdminDeps } from "../services/tenant-lifecycle.ts";
import { createTenant, updateTenant } from "../services/tenants.ts";

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
    return asPayload<typeof CreateTenantPayload>(async () => {
      const { tenant, apiKey, secret } = await createTenant(tenantAdminDeps(ctx), input);
      // the rows are the roots of Tenant and ApiKey, whose differing fields their field resolvers compute
      return new CreateTenantSuccess({ tenant: tenant as unknown as Tenant, apiKey: apiKey as unknown as CreateTenantSuccess["apiKey"], secret });
    });
  }

  @Mutation(() => UpdateTenantPayload, { description: "Platform admin: change a tenant's quotas." })
  async updateTenant(
    @Arg("input", () => UpdateTenantInput) input: UpdateTenantInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof UpdateTenantPayload> {
    requireAdmin(ctx);
    return asPayload<typeof UpdateTenantPayload>(async () => {
      const tenant = await updateTenant(tenantAdminDeps(ctx), inputId(input.id, "Tenant", "input.id"), input);
      return new UpdateTenantSuccess({ tenant: tenant as unknown as Tenant });
    });
  }

  @Mutation(() => SuspendTenantPayload, {
    description: "Platform admin: suspend a tenant (its keys are refused, its active jobs cancelled, it starts no jobs) or resume it.",
  })
  async suspendTenant(@Arg("input", () => SuspendTenantInput) input: SuspendTenantInput, @Ctx() ctx: ApiContext): Promise<typeof SuspendTenantPayload> {
    requireAdmin(ctx);
    return asPayload<typeof SuspendTenantPayload>(async () => {
      const tenantId = inputId(input.id, "Tenant", "input.id");
      const { tenant, cancelledJobIds } = await suspendTenant(tenantAdminDeps(ctx), tenantId, input.suspended);
      if (input.suspended) await closeTenantSockets(ctx, await tenantKeyIds(ctx, tenantId), "Forbidden: tenant suspended");
      return new SuspendTenantSuccess({ tenant: tenant as unknown as Tenant, cancelledJobIds: cancelledJobIds.map((id) => toGlobalId("Job", id)) });
    });
  }

  @Mutation(() => DeleteTenantPayload, {
    description: "Platform admin: delete a tenant with everything it owns and its stored files; refused while it has QUEUED or RUNNING jobs.",
  })
  async deleteTenant(@Arg("input", () => DeleteTenantInput) input: DeleteTenantInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteTenantPayload> {
    requireAdmin(ctx);
    return asPayload<typeof DeleteTenantPayload>(async () => {
      const tenantId = inputId(input.id, "Tenant", "input.id");
      const keyIds = await tenantKeyIds(ctx, tenantId);
      await deleteTenant(tenantAdminDeps(ctx), tenantId);
      await closeTenantSockets(ctx, keyIds, "Forbidden: tenant deleted");
      return new DeleteTenantSuccess({ deletedId: input.id });
    });
  }
}
