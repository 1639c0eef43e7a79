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
  NotFoundError,
  RevokeApiKeyInput,
  RevokeApiKeyPayload,
  RevokeApiKeySuccess,
  ValidationError,
  fromGlobalId,
  paginate,
  toGlobalId,
  type ConnectionResult,
} from "../../schema/index.ts";
import { generateTenantKey } from "../auth/index.ts";
import { requireAuthenticated, type ApiContext } from "../context.ts";
import { BadUserInputError, ForbiddenError, UnreachableCaseError } from "../errors/index.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";
import { decodeIdInput } from "./node-ids.ts";

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  role: "TENANT_ADMIN" | "MEMBER";
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const PUBLIC_FIELDS = {
  id: true,
  tenantId: true,
  name: true,
  prefix: true,
  role: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const;

/** Delegate over api_keys for the caller: the system client (admin) or the tenant's scoped client (tenant admin). */
type ApiKeyDelegate = ApiContext["db"]["system"]["apiKey"];

interface KeyScope {
  /** The tenant whose keys are addressed. */
  tenantId: string;
  apiKeys: ApiKeyDelegate;
  asAdmin: boolean;
}

/**
 * Which tenant's keys the caller addresses. Admin: `tenantId` (global Tenant id) is required. Tenant admin: own
 * tenant; `tenantId` must be omitted or their own. MEMBER: FORBIDDEN.
 */
function keyScope(ctx: ApiContext, tenantGlobalId: string | null | undefined, argument: string): KeyScope {
  const auth = requireAuthenticated(ctx);
  if (auth.kind === "admin") {
    if (!tenantGlobalId) throw new BadUserInputError(`the platform admin must pass \`${argument}\``, { argument });
    const tenantId = fromGlobalId(tenantGlobalId, "Tenant").uuid;
    return { tenantId, apiKeys: ctx.db.system.apiKey, asAdmin: true };
  }
  if (auth.role !== "TENANT_ADMIN") {
    throw new ForbiddenError("managing API keys needs a TENANT_ADMIN key; this key is a MEMBER key");
  }
  if (tenantGlobalId && fromGlobalId(tenantGlobalId, "Tenant").uuid !== auth.tenantId) {
    throw new ForbiddenError(`\`${argument}\` may name only your own tenant (other tenants are for the platform admin)`);
  }
  return { tenantId: auth.tenantId, apiKeys: ctx.tenantDb().apiKey as unknown as ApiKeyDelegate, asAdmin: false };
}

export const apiKeyNode: NodeTypeRegistration = {
  typeName: "ApiKey",
  async load(ctx, uuid) {
    switch (ctx.auth.kind) {
      case "admin":
        return await ctx.db.system.apiKey.findUnique({ where: { id: uuid }, select: PUBLIC_FIELDS });
      case "tenant":
        if (ctx.auth.role !== "TENANT_ADMIN" && uuid !== ctx.auth.keyId) return null;
        return await ctx.tenantDb().apiKey.findFirst({ where: { id: uuid }, select: PUBLIC_FIELDS });
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
  id(@Root() key: ApiKeyRow): string {
    return toGlobalId("ApiKey", key.id);
  }

  @Query(() => ApiKeyConnection, {
    description: "API keys of a tenant, newest first. Tenant admins: their own; the platform admin: pass tenantId.",
  })
  async apiKeys(@Args(() => ApiKeysArgs) args: ApiKeysArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<ApiKeyRow>> {
    const scope = keyScope(ctx, args.tenantId, "tenantId");
    const filter = { tenantId: scope.tenantId, ...(args.includeRevoked ? {} : { revokedAt: null }) };
    return paginate(args, (q) =>
      scope.apiKeys.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take, select: PUBLIC_FIELDS }),
    );
  }

  @Mutation(() => CreateApiKeyPayload, { description: "A new key; its secret is returned once." })
  async createApiKey(
    @Arg("input", () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateApiKeyPayload> {
    let tenantGlobalId = input.tenantId;
    if (tenantGlobalId) {
      const decoded = decodeIdInput(tenantGlobalId, "Tenant", "input.tenantId");
      if (!decoded.ok) return decoded.error;
    }
    const scope = keyScope(ctx, tenantGlobalId, "input.tenantId");
    if (scope.asAdmin) {
      const tenant = await ctx.db.system.tenant.findUnique({ where: { id: scope.tenantId }, select: { id: true } });
      if (!tenant) return new NotFoundError({ id: tenantGlobalId!, message: `no tenant with id "${tenantGlobalId}"` });
    }
    const generated = generateTenantKey();
    const apiKey = await scope.apiKeys.create({
      data: {
        tenantId: scope.tenantId,
        name: input.name,
        role: input.role,
        prefix: generated.prefix,
        secretHash: generated.secretHash,
      },
      select: PUBLIC_FIELDS,
    });
    ctx.log.info("api key created", { tenantId: scope.tenantId, keyId: apiKey.id, role: apiKey.role });
    return new CreateApiKeySuccess({ apiKey: apiKey as unknown as ApiKey, secret: generated.key });
  }

  @Mutation(() => RevokeApiKeyPayload, {
    description:
      "Revokes a key (idempotent). Requests with it then fail with UNAUTHENTICATED; its open WebSocket connections are closed with 4403 within a second.",
  })
  async revokeApiKey(
    @Arg("input", () => RevokeApiKeyInput) input: RevokeApiKeyInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof RevokeApiKeyPayload> {
    const decoded = decodeIdInput(input.id, "ApiKey", "input.id");
    if (!decoded.ok) return decoded.error;
    const auth = requireAuthenticated(ctx);
    const notFound = new NotFoundError({ id: input.id, message: `no API key with id "${input.id}"` });
    let apiKeys: ApiKeyDelegate;
    if (auth.kind === "admin") {
      apiKeys = ctx.db.system.apiKey;
    } else {
      apiKeys = keyScope(ctx, undefined, "tenantId").apiKeys;
    }
    const key = await apiKeys.findFirst({ where: { id: decoded.uuid }, select: PUBLIC_FIELDS });
    if (!key) return notFound;
    if (key.revokedAt !== null) return new RevokeApiKeySuccess({ apiKey: key as unknown as ApiKey });
    if (auth.kind === "tenant" && key.role === "TENANT_ADMIN") {
      const otherAdmins = await apiKeys.count({
        where: { tenantId: key.tenantId, role: "TENANT_ADMIN", revokedAt: null, id: { not: key.id } },
      });
      if (otherAdmins === 0) {
        return new ValidationError({
          field: "input.id",
          message: "cannot revoke the tenant's last active TENANT_ADMIN key: create another TENANT_ADMIN key first",
        });
      }
    }
    const revoked = await apiKeys.update({
      where: { id: key.id },
      data: { revokedAt: new Date() },
      select: PUBLIC_FIELDS,
    });
    const sockets = ctx.services.liveSockets?.closeSocketsOf([key.id]) ?? 0;
    ctx.log.info("api key revoked", { tenantId: key.tenantId, keyId: key.id, socketsClosed: sockets });
    return new RevokeApiKeySuccess({ apiKey: revoked as unknown as ApiKey });
  }
}
