/** @module api/resolvers/adapter
 *  Adapters (trained ARMs, created when a TRAIN job completes): `adapters` (connection) and their fields. */
import { Args, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import { Adapter, AdapterConnection } from "../../schema/adapter/index.ts";
import { ConnectionArgs, paginate, toGlobalId, type ConnectionResult } from "../../schema/common/index.ts";
import { Model } from "../../schema/model/index.ts";
import type { ApiContext } from "../context.ts";
import { readDb, serviceDeps } from "../services/context.ts";
import type { AdapterRow } from "../services/generations.ts";
import type { ModelRow } from "../services/models.ts";
import { tenantScopedNode } from "./node-registry.ts";

export const adapterNode = tenantScopedNode("Adapter", "adapter");

@Resolver(() => Adapter)
export class AdapterResolver {
  @FieldResolver(() => ID)
  id(@Root() row: AdapterRow): string {
    return toGlobalId("Adapter", row.id);
  }

  @FieldResolver(() => ID)
  baseModelId(@Root() row: AdapterRow): string {
    return toGlobalId("Model", row.baseModelId);
  }

  @FieldResolver(() => [ID])
  dimensionIds(@Root() row: AdapterRow): string[] {
    return row.dimensionIds.map((id) => toGlobalId("PreferenceDimension", id));
  }

  @FieldResolver(() => ID, { nullable: true })
  jobId(@Root() row: AdapterRow): string | null {
    return row.jobId ? toGlobalId("Job", row.jobId) : null;
  }

  @FieldResolver(() => Model, { nullable: true, description: "The ARM backbone." })
  async baseModel(@Root() row: AdapterRow, @Ctx() ctx: ApiContext): Promise<ModelRow | null> {
    return (await readDb(ctx).model.findFirst({ where: { id: row.baseModelId } })) as ModelRow | null;
  }

  @Query(() => AdapterConnection, { description: "The tenant's trained adapters, newest first." })
  async adapters(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<AdapterRow>> {
    const { db } = serviceDeps(ctx);
    return paginate(args, async (q) => (await db.adapter.findMany({ where: q.where, orderBy: q.orderBy, take: q.take })) as AdapterRow[]);
  }
}
