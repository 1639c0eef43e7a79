/** @module api/resolvers/dimension
 *  Preference dimensions (services/dimensions.ts holds the rules). Any tenant key lists them (ordered by
 *  position); TENANT_ADMIN keys create, update and delete them. The platform admin may list any tenant's
 *  dimensions (`tenantId`) but not change them. */
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import {
  CreateDimensionInput,
  CreateDimensionPayload,
  CreateDimensionSuccess,
  DeleteDimensionInput,
  DeleteDimensionPayload,
  DeleteDimensionSuccess,
  DimensionChange,
  PreferenceDimension,
  UpdateDimensionInput,
  UpdateDimensionPayload,
  UpdateDimensionSuccess,
  fromGlobalId,
  toGlobalId,
} from "../../schema/index.ts";
import { requireAuthenticated, requireTenant, requireTenantAdmin, type ApiContext } from "../context.ts";
import type { PreferenceDimension as DimensionRow } from "../db/index.ts";
import { BadUserInputError, ForbiddenError } from "../errors/index.ts";
import { Topics } from "../pubsub/index.ts";
import { serviceDeps } from "../services/context.ts";
import { createDimension, deleteDimension, listDimensions, updateDimension, type DimensionChangeEvent } from "../services/dimensions.ts";
import { asPayload } from "../services/payload-errors.ts";
import { inputId } from "./node-ids.ts";
import { tenantScopedNode, type NodeTypeRegistration } from "./node-registry.ts";

export const dimensionNode: NodeTypeRegistration = tenantScopedNode("PreferenceDimension", "preferenceDimension");

@ArgsType()
class DimensionsArgs {
  @Field(() => ID, { nullable: true, description: "Platform admin only: whose dimensions." })
  tenantId?: string | null;
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
    return listDimensions({ db: ctx.tenantDb() });
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
    return {
      kind: event.kind,
      dimensionId: toGlobalId("PreferenceDimension", event.dimensionId),
      dimensions: await listDimensions({ db: ctx.tenantDb() }),
    };
  }

  @Mutation(() => CreateDimensionPayload, { description: "TENANT_ADMIN: appends a dimension at the next position." })
  async createDimension(
    @Arg("input", () => CreateDimensionInput) input: CreateDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateDimensionPayload> {
    requireTenantAdmin(ctx);
    return asPayload<typeof CreateDimensionPayload>(async () => new CreateDimensionSuccess({ dimension: await createDimension(serviceDeps(ctx), input) }));
  }

  @Mutation(() => UpdateDimensionPayload, { description: "TENANT_ADMIN: renames or changes description / β_r." })
  async updateDimension(
    @Arg("input", () => UpdateDimensionInput) input: UpdateDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof UpdateDimensionPayload> {
    requireTenantAdmin(ctx);
    return asPayload<typeof UpdateDimensionPayload>(async () => {
      const id = inputId(input.id, "PreferenceDimension", "input.id");
      return new UpdateDimensionSuccess({ dimension: await updateDimension(serviceDeps(ctx), id, input) });
    });
  }

  @Mutation(() => DeleteDimensionPayload, {
    description: "TENANT_ADMIN: deletes an unused dimension and re-packs the positions of the others.",
  })
  async deleteDimension(
    @Arg("input", () => DeleteDimensionInput) input: DeleteDimensionInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof DeleteDimensionPayload> {
    requireTenantAdmin(ctx);
    return asPayload<typeof DeleteDimensionPayload>(async () => {
      const id = inputId(input.id, "PreferenceDimension", "input.id");
      return new DeleteDimensionSuccess({ deletedId: input.id, dimensions: await deleteDimension(serviceDeps(ctx), id) });
    });
  }
}
