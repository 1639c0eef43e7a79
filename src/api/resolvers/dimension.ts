/** @module api/resolvers/dimension
 *  Preference dimensions. Any tenant key lists them (ordered by position); TENANT_ADMIN keys create, update and
 *  delete them. Names are unique per tenant; β_r must be finite and > 0; a new dimension takes the next position;
 *  deleting one re-packs the positions of the rest to 0..k-1 in the same transaction. A dimension that a dataset's
 *  label map, an adapter, an EVALUATOR model or an active job references cannot be deleted (ResourceInUse naming
 *  them; services/resource-usage.ts). The platform admin may list any tenant's dimensions (`tenantId`) but not
 *  change them. */
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import {
  CreateDimensionInput,
  CreateDimensionPayload,
  CreateDimensionSuccess,
  DeleteDimensionInput,
  DeleteDimensionPayload,
  DeleteDimensionSuccess,
  DimensionChange,
  DimensionChangeKind,
  NotFoundError,
  PreferenceDimension,
  ResourceInUse,
  UpdateDimensionInput,
  UpdateDimensionPayload,
  UpdateDimensionSuccess,
  ValidationError,
  fromGlobalId,
  toGlobalId,
} from "../../schema/index.ts";
import { requireAuthenticated, requireTenant, requireTenantAdmin, type ApiContext } from "../context.ts";
import { BadUserInputError, ForbiddenError, isUniqueViolation } from "../errors/index.ts";
import type { TenantTransactionClient } from "../db/index.ts";
import { Topics } from "../pubsub/index.ts";
import { tenantScopedNode, type NodeTypeRegistration } from "./node-registry.ts";
import { decodeIdInput } from "./node-ids.ts";
import { describeUsers, dimensionUsers } from "../services/resource-usage.ts";

export interface DimensionRow {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  betaR: number;
  position: number;
  createdAt: Date;
  updatedAt: Date;
}

export const dimensionNode: NodeTypeRegistration = tenantScopedNode("PreferenceDimension", "preferenceDimension");

@ArgsType()
class DimensionsArgs {
  @Field(() => ID, { nullable: true, description: "Platform admin only: whose dimensions." })
  tenantId?: string | null;
}

/** β_r must be a finite number > 0; returns the problem or null. */
export function betaRProblem(betaR: number): string | null {
  if (typeof betaR !== "number" || !Number.isFinite(betaR)) return "betaR must be a finite number";
  if (betaR <= 0) return `betaR must be > 0, got ${betaR}`;
  return null;
}

const MAX_POSITION_RETRIES = 3;

/** Serialises position-changing transactions of one tenant (transaction-scoped advisory lock). */
async function lockDimensions(tx: { $executeRaw: TenantTransactionClient["$executeRaw"] }, tenantId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`parm:dimensions:${tenantId}`}))`;
}

/** What the dimension mutations publish on `Topics.dimensions(tenantId)`. */
export interface DimensionChangeEvent {
  kind: DimensionChangeKind;
  /** Row uuid. */
  dimensionId: string;
}

@Resolver(() => PreferenceDimension)
export class DimensionResolver {
  @FieldResolver(() => ID)
  id(@Root() dimension: DimensionRow): string {
    return toGlobalId("PreferenceDimension", dimension.id);
  }

  @Query(() => [PreferenceDimension], { description: "The tenant's preference dimensions in α order (by position)." })
  async dimensions(@Args(() => DimensionsArgs) args: DimensionsArgs, @Ctx() ctx: ApiContext): Promise<DimensionRow[]> {
    const auth = requireAuthenticated(ctx);
    if (auth.kind === "admin") {
      if (!args.tenantId) throw new BadUserInputError("the platform admin must pass `tenantId`", { argument: "tenantId" });
      const tenantId = fromGlobalId(args.tenantId, "Tenant").uuid;
      return ctx.db.system.preferenceDimension.findMany({ where: { tenantId }, orderBy: { position: "asc" } });
    }
    if (args.tenantId && fromGlobalId(args.tenantId, "Tenant").uuid !== auth.tenantId) {
      throw new ForbiddenError("`tenantId` may name only your own tenant (other tenants are for the platform admin)");
    }
    return ctx.tenantDb().preferenceDimension.findMany({ orderBy: { position: "asc" } });
  }

  @Subscription(() => DimensionChange, {
    description: "Changes to the caller tenant's dimensions, with the full list after each change.",
    subscribe: ({ context }) => {
      const ctx = context as ApiContext;
      const auth = requireTenant(ctx);
      return ctx.pubSub.subscribe(Topics.dimensions(auth.tenantId));
    },
  })
  async dimensionsChanged(@Root() event: DimensionChangeEvent, @Ctx() ctx: ApiContext): Promise<DimensionChange> {
    const dimensions = await ctx.tenantDb().preferenceDimension.findMany({ orderBy: { position: "asc" } });
    return {
      kind: event.kind,
      dimensionId: toGlobalId("PreferenceDimension", event.dimensionId),
      dimensions: dimensions as unknown as PreferenceDimension[],
    };
  }

  @Mutation(() => CreateDimensionPayload, { description: "TENANT_ADMIN: appends a dimension at the next position." })
  async createDimension(
    @Arg("input", () => CreateDimensionInput) input: CreateDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateDimensionPayload> {
    const auth = requireTenantAdmin(ctx);
    const betaProblem = betaRProblem(input.betaR);
    if (betaProblem) return new ValidationError({ field: "input.betaR", message: betaProblem });
    const db = ctx.tenantDb();
    const nameTaken = () =>
      new ValidationError({ field: "input.name", message: `a dimension named "${input.name}" already exists` });
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await db.$transaction(async (tx) => {
          await lockDimensions(tx, auth.tenantId);
          if (await tx.preferenceDimension.findFirst({ where: { name: input.name }, select: { id: true } })) return null;
          const position = await tx.preferenceDimension.count();
          return tx.preferenceDimension.create({
            data: { tenantId: auth.tenantId, name: input.name, description: input.description, betaR: input.betaR, position },
          });
        });
        if (!created) return nameTaken();
        await ctx.pubSub.publish(Topics.dimensions(auth.tenantId), { kind: DimensionChangeKind.CREATED, dimensionId: created.id });
        return new CreateDimensionSuccess({ dimension: created as unknown as PreferenceDimension });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Either a concurrent create took the name, or the same position: re-check and retry.
        if (await db.preferenceDimension.findFirst({ where: { name: input.name }, select: { id: true } })) return nameTaken();
        if (attempt + 1 >= MAX_POSITION_RETRIES) throw error;
      }
    }
  }

  @Mutation(() => UpdateDimensionPayload, { description: "TENANT_ADMIN: renames or changes description / β_r." })
  async updateDimension(
    @Arg("input", () => UpdateDimensionInput) input: UpdateDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof UpdateDimensionPayload> {
    const auth = requireTenantAdmin(ctx);
    const decoded = decodeIdInput(input.id, "PreferenceDimension", "input.id");
    if (!decoded.ok) return decoded.error;
    if (input.betaR != null) {
      const betaProblem = betaRProblem(input.betaR);
      if (betaProblem) return new ValidationError({ field: "input.betaR", message: betaProblem });
    }
    const db = ctx.tenantDb();
    const existing = await db.preferenceDimension.findFirst({ where: { id: decoded.uuid } });
    if (!existing) return new NotFoundError({ id: input.id, message: `no dimension with id "${input.id}"` });
    const nameTaken = () =>
      new ValidationError({ field: "input.name", message: `a dimension named "${input.name}" already exists` });
    if (input.name != null && input.name !== existing.name) {
      if (await db.preferenceDimension.findFirst({ where: { name: input.name }, select: { id: true } })) return nameTaken();
    }
    try {
      const updated = await db.preferenceDimension.update({
        where: { id: existing.id },
        data: {
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.description != null ? { description: input.description } : {}),
          ...(input.betaR != null ? { betaR: input.betaR } : {}),
        },
      });
      await ctx.pubSub.publish(Topics.dimensions(auth.tenantId), { kind: DimensionChangeKind.UPDATED, dimensionId: updated.id });
      return new UpdateDimensionSuccess({ dimension: updated as unknown as PreferenceDimension });
    } catch (error) {
      if (isUniqueViolation(error)) return nameTaken();
      throw error;
    }
  }

  @Mutation(() => DeleteDimensionPayload, {
    description: "TENANT_ADMIN: deletes an unused dimension and re-packs the positions of the others.",
  })
  async deleteDimension(
    @Arg("input", () => DeleteDimensionInput) input: DeleteDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof DeleteDimensionPayload> {
    const auth = requireTenantAdmin(ctx);
    const decoded = decodeIdInput(input.id, "PreferenceDimension", "input.id");
    if (!decoded.ok) return decoded.error;
    const result = await ctx.tenantDb().$transaction(async (tx) => {
      await lockDimensions(tx, auth.tenantId);
      const existing = await tx.preferenceDimension.findFirst({ where: { id: decoded.uuid } });
      if (!existing) return new NotFoundError({ id: input.id, message: `no dimension with id "${input.id}"` });
      const users = await dimensionUsers(tx, existing.id);
      if (users.length > 0) {
        return new ResourceInUse({
          message: `dimension "${existing.name}" is used by ${describeUsers(users)} and cannot be deleted; delete those first (and cancel those jobs)`,
          usedBy: users.map((u) => toGlobalId(u.entity, u.id)),
        });
      }
      await tx.preferenceDimension.delete({ where: { id: existing.id } });
      // Shift later dimensions down one at a time, lowest first, so (tenant, position) stays unique throughout.
      const later = await tx.preferenceDimension.findMany({
        where: { position: { gt: existing.position } },
        orderBy: { position: "asc" },
        select: { id: true, position: true },
      });
      for (const d of later) {
        await tx.preferenceDimension.update({ where: { id: d.id }, data: { position: d.position - 1 } });
      }
      const remaining = await tx.preferenceDimension.findMany({ orderBy: { position: "asc" } });
      return new DeleteDimensionSuccess({ deletedId: input.id, dimensions: remaining as unknown as PreferenceDimension[] });
    });
    if (result instanceof DeleteDimensionSuccess) {
      await ctx.pubSub.publish(Topics.dimensions(auth.tenantId), { kind: DimensionChangeKind.DELETED, dimensionId: decoded.uuid });
    }
    return result;
  }
}
