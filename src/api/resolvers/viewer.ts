/** @module api/resolvers/viewer
 *  `viewer`: the caller — the platform admin, or a tenant key with its tenant and role. Anonymous callers get
 *  UNAUTHENTICATED. */
import { Ctx, Query, Resolver } from "type-graphql";
import { Viewer, ViewerKind, ApiKeyRole } from "../../schema/index.ts";
import { requireAuthenticated, type ApiContext } from "../context.ts";
import { UnreachableCaseError } from "../errors/index.ts";

@Resolver(() => Viewer)
export class ViewerResolver {
  @Query(() => Viewer, { description: "Who the caller is." })
  async viewer(@Ctx() ctx: ApiContext): Promise<Viewer> {
    const auth = requireAuthenticated(ctx);
    switch (auth.kind) {
      case "admin":
        return { kind: ViewerKind.ADMIN, tenant: null, apiKey: null, role: null };
      case "tenant": {
        const db = ctx.tenantDb();
        const [tenant, apiKey] = await Promise.all([
          db.tenant.findFirst({ where: { id: auth.tenantId } }),
          db.apiKey.findFirst({
            where: { id: auth.keyId },
            select: { id: true, tenantId: true, name: true, prefix: true, role: true, createdAt: true, lastUsedAt: true, revokedAt: true },
          }),
        ]);
        return {
          kind: ViewerKind.TENANT,
          tenant: tenant as unknown as Viewer["tenant"],
          apiKey: apiKey as unknown as Viewer["apiKey"],
          role: auth.role === "TENANT_ADMIN" ? ApiKeyRole.TENANT_ADMIN : ApiKeyRole.MEMBER,
        };
      }
      default:
        throw new UnreachableCaseError(auth);
    }
  }
}
