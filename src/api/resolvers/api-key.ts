/** @module api/resolvers/api-key
 *  API keys. Tenant admins list, create and revoke their own tenant's keys; the platform admin does the same for
 *  any tenant by passing `tenantId`. MEMBER keys may do none of it (FORBIDDEN) and see only their own key (through
 *  `viewer.apiKey` or `node(id:)`). A tenant admin cannot revoke the tenant's last active TENANT_ADMIN key.
 *  Revoking closes the key's open WebSocket connections in this process at once (4403, server/live-sockets.ts);
 *  other api processes close theirs at their next re-check. */
import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import {
  ApiKey,
  ApiKeyConnection,
  ApiKeysArgs,
  CreateApiKeyInput,
  CreateApiKeyPayload,
  CreateApiKeySuccess,
  RevokeApiKeyInput,
  RevokeApiKeyPayload,
  RevokeApiKeySuccess,
  fromGlobalId,
  paginate,
  toGlobalId,
  type ConnectionResult,
} from "../../schema/index.ts";
import { requireAuthenticated, type ApiContext } from "../context.ts";
import { BadUserInputError, ForbiddenError, UnreachableCaseError } from "../errors/index.ts";
import {
  createApiKey,
  PUBLIC_API_KEY_FIELDS,
  revokeApiKey,
  type ApiKeyDelegate,
  type ApiKeyScope,
  type PublicApiKey,
} from "../services/api-keys.ts";
import { asPayload } from "../services/payload-errors.ts";
import { inputId } from "./node-ids.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";

/**
 * Which tenant's keys the caller addresses. Admin: `tenantId` (global Tenant id) is required. Tenant admin: own
 * tenant; `tenantId` must be omitted or their own. MEMBER: FORBIDDEN.
 */
function keyScope(ctx: ApiContext, tenantGlobalId: string | null | undefined, argument: string): ApiKeyScope {
  const auth = requireAuthenticated(ctx);
  if (auth.kind === "admin") {
    if (!tenantGlobalId) throw new BadUserInputError(`the platform admin must pass \`${argument}\``, { argument });
    const tenantId = fromGlobalId(tenantGlobalId, "Tenant").uuid;
    return { tenantId, apiKeys: ctx.db.system.apiKey, tenants: ctx.db.system.tenant, log: ctx.log };
  }
  if (auth.role !== "TENANT_ADMIN") {
    throw new ForbiddenError("managing API keys needs a TENANT_ADMIN key; this key is a MEMBER key");
  }
  if (tenantGlobalId && fromGlobalId(tenantGlobalId, "Tenant").uuid !== auth.tenantId) {
    throw new ForbiddenError(`\`${argument}\` may name only your own tenant (other tenants are for the platform admin)`);
  }
  return { tenantId: auth.tenantId, apiKeys: ctx.tenantDb().apiKey as unknown as ApiKeyDelegate, log: ctx.log };
}

export const apiKeyNode: NodeTypeRegistration = {
  typeName: "ApiKey",
  async load(ctx, uuid) {
    switch (ctx.auth.kind) {
      case "admin":
        return await ctx.db.system.apiKey.findUnique({ where: { id: uuid }, select: PUBLIC_API_KEY_FIELDS });
      case "tenant":
        if (ctx.auth.role !== "TENANT_ADMIN" && uuid !== ctx.auth.keyId) return null;
        return await ctx.tenantDb().apiKey.findFirst({ where: { id: uuid }, select: PUBLIC_API_KEY_FIELDS });
      case "anonymous":
        return null;
      default:
        throw new UnreachableCaseError(ctx.auth);
    }
  },
};

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @FieldResolver(() => ID)
  id(@Root() key: PublicApiKey): string {
    return toGlobalId("ApiKey", key.id);
  }

  @Query(() => ApiKeyConnection, {
    description: "API keys of a tenant, newest first. Tenant admins: their own; the platform admin: pass tenantId.",
  })
  async apiKeys(@Args(() => ApiKeysArgs) args: ApiKeysArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<PublicApiKey>> {
    const scope = keyScope(ctx, args.tenantId, "tenantId");
    const filter = { tenantId: scope.tenantId, ...(args.includeRevoked ? {} : { revokedAt: null }) };
    return paginate(args, (q) =>
      scope.apiKeys.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take, select: PUBLIC_API_KEY_FIELDS }),
    );
  }

  @Mutation(() => CreateApiKeyPayload, { description: "A new key; its secret is returned once." })
  async createApiKey(
    @Arg("input", () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateApiKeyPayload> {
    return asPayload<typeof CreateApiKeyPayload>(async () => {
      if (input.tenantId) inputId(input.tenantId, "Tenant", "input.tenantId");
      const { apiKey, secret } = await createApiKey(keyScope(ctx, input.tenantId, "input.tenantId"), input);
      // the GraphQL ApiKey's role is the schema's enum (same values as the row's)
      return new CreateApiKeySuccess({ apiKey: apiKey as unknown as ApiKey, secret });
    });
  }

  @Mutation(() => RevokeApiKeyPayload, {
    description:
      "Revokes a key (idempotent). Requests with it then fail with UNAUTHENTICATED; its open WebSocket connections are closed with 4403 within a second.",
  })
  async revokeApiKey(
    @Arg("input", () => RevokeApiKeyInput) input: RevokeApiKeyInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof RevokeApiKeyPayload> {
    return asPayload<typeof RevokeApiKeyPayload>(async () => {
      const id = inputId(input.id, "ApiKey", "input.id");
      const auth = requireAuthenticated(ctx);
      const apiKeys = auth.kind === "admin" ? ctx.db.system.apiKey : keyScope(ctx, undefined, "tenantId").apiKeys;
      const { apiKey, revokedNow } = await revokeApiKey(apiKeys, id, auth.kind === "tenant");
      if (revokedNow) {
        const sockets = ctx.services.liveSockets?.closeSocketsOf([apiKey.id]) ?? 0;
        ctx.log.info("api key revoked", { tenantId: apiKey.tenantId, keyId: apiKey.id, socketsClosed: sockets });
      }
      return new RevokeApiKeySuccess({ apiKey: apiKey as unknown as ApiKey });
    });
  }
}
