/** @module schema/api-key
 *  API keys of a tenant. The secret is returned once, by the mutation that creates the key. */
import { ArgsType, Field, ID, InputType, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { IsOptional, Length } from "class-validator";
import { Connection, ConnectionArgs, Node, NotFoundError, ValidationError, resolveAbstractType } from "../common/index.ts";

export enum ApiKeyRole {
  TENANT_ADMIN = "TENANT_ADMIN",
  MEMBER = "MEMBER",
}
registerEnumType(ApiKeyRole, {
  name: "ApiKeyRole",
  description: "TENANT_ADMIN manages keys and dimensions; MEMBER reads and runs jobs.",
});

@ObjectType("ApiKey", { implements: Node })
export class ApiKey extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => String, { description: "Visible start of the key, `parm_<10 hex>`." })
  prefix!: string;
  @Field(() => ApiKeyRole)
  role!: ApiKeyRole;
  @Field(() => Date)
  createdAt!: Date;
  @Field(() => Date, { nullable: true, description: "Refreshed at most once a minute." })
  lastUsedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

export const ApiKeyConnection = Connection(ApiKey, "ApiKey");

@ArgsType()
export class ApiKeysArgs extends ConnectionArgs {
  @Field(() => ID, { nullable: true, description: "Platform admin only: whose keys. Tenant keys list their own tenant's." })
  tenantId?: string | null;

  @Field(() => Boolean, { defaultValue: false })
  includeRevoked!: boolean;
}

@InputType("CreateApiKeyInput")
export class CreateApiKeyInput {
  @Field(() => String)
  @Length(1, 100)
  name!: string;

  @Field(() => ApiKeyRole, { defaultValue: ApiKeyRole.MEMBER })
  role!: ApiKeyRole;

  @Field(() => ID, { nullable: true, description: "Platform admin only: the tenant to create the key for." })
  @IsOptional()
  tenantId?: string | null;
}

@ObjectType("CreateApiKeySuccess")
export class CreateApiKeySuccess {
  @Field(() => ApiKey)
  apiKey!: ApiKey;
  @Field(() => String, { description: "The full key. Shown once: only its hash is stored." })
  secret!: string;
  constructor(init?: { apiKey: ApiKey; secret: string }) {
    if (init) Object.assign(this, init);
  }
}

export const CreateApiKeyPayload = createUnionType({
  name: "CreateApiKeyPayload",
  types: () => [CreateApiKeySuccess, ValidationError, NotFoundError] as const,
  resolveType: resolveAbstractType,
});

@InputType("RevokeApiKeyInput")
export class RevokeApiKeyInput {
  @Field(() => ID)
  id!: string;
}

@ObjectType("RevokeApiKeySuccess")
export class RevokeApiKeySuccess {
  @Field(() => ApiKey)
  apiKey!: ApiKey;
  constructor(init?: { apiKey: ApiKey }) {
    if (init) Object.assign(this, init);
  }
}

export const RevokeApiKeyPayload = createUnionType({
  name: "RevokeApiKeyPayload",
  types: () => [RevokeApiKeySuccess, NotFoundError, ValidationError] as const,
  resolveType: resolveAbstractType,
});
