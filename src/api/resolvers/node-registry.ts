/** @module api/resolvers/node-registry
 *  How `node(id:)` finds objects: one registration per Node type, keyed by the type name inside the global id.
 *  A loader returns the row when the caller may see it and null otherwise (another tenant's object is
 *  indistinguishable from a missing one). The platform admin may read any node; loaders decide for tenants. */
import type { ApiContext } from "../context.ts";

export interface NodeTypeRegistration {
  /** GraphQL type name, as encoded in global ids (e.g. "Dataset"). */
  typeName: string;
  /** Loads the row with primary key `uuid` if `ctx`'s caller may see it; null otherwise. */
  load(ctx: ApiContext, uuid: string): Promise<object | null>;
}

/** Prisma model delegates of tenant-owned tables. */
export type TenantModelDelegate =
  | "apiKey"
  | "preferenceDimension"
  | "dataset"
  | "datasetRecord"
  | "model"
  | "adapter"
  | "job"
  | "jobEvent"
  | "generation"
  | "evaluation"
  | "paretoPoint";

interface FindFirstDelegate {
  findFirst(args: { where: { id: string } }): Promise<object | null>;
}

/** A registration for a tenant-owned table: the tenant's scoped client for tenants, the system client for the admin. */
export function tenantScopedNode(typeName: string, delegate: TenantModelDelegate): NodeTypeRegistration {
  return {
    typeName,
    async load(ctx, uuid) {
      const client = ctx.auth.kind === "admin" ? ctx.db.system : ctx.tenantDb();
      const model = (client as unknown as Record<TenantModelDelegate, FindFirstDelegate>)[delegate];
      return await model.findFirst({ where: { id: uuid } });
    },
  };
}
