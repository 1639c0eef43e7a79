/** @module api/resolvers/node
 *  `node(id: ID!): Node` — dispatches on the type name inside the global id to the registrations in
 *  `nodeTypes` (resolvers/index.ts). Malformed ids are BAD_USER_INPUT; unknown types, missing rows and other
 *  tenants' rows are null. Requires authentication. */
import { Arg, Ctx, ID, Query, Resolver } from "type-graphql";
import { Node, fromGlobalId, withTypename } from "../../schema/common/index.ts";
import { requireAuthenticated, type ApiContext } from "../context.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";

/** Creates the resolver class bound to a registry (read at call time, so later registrations count). */
export function createNodeResolver(registry: readonly NodeTypeRegistration[]) {
  @Resolver()
  class NodeResolver {
    @Query(() => Node, { nullable: true, description: "Any object by global id; null when absent or not visible." })
    async node(@Arg("id", () => ID) id: string, @Ctx() ctx: ApiContext): Promise<object | null> {
      requireAuthenticated(ctx);
      const { typeName, uuid } = fromGlobalId(id);
      const registration = registry.find((r) => r.typeName === typeName);
      if (!registration) return null;
      const row = await registration.load(ctx, uuid);
      return row ? withTypename(typeName, row) : null;
    }
  }
  return NodeResolver;
}
