/** @module schema/tenant
 *  Tenants (admin-managed). A tenant owns API keys, dimensions, datasets, models, adapters and jobs. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType } from "type-graphql";
import { IsInt, IsOptional, Length, Matches, Max, Min } from "class-validator";
import { Connection, Node, NotFoundError, ResourceInUse, ValidationError, resolveAbstractType } from "../common/index.ts";
import { ApiKey } from "../api-key/index.ts";

@ObjectType("JobLimits", { description: "Per-job work limits (docs/configuration.md, PARM_MAX_*)." })
export class JobLimits {
  @Field(() => Float, { description: "Most α points of one evaluation's grid." })
  maxGridPoints!: number;
  @Field(() => Float, { description: "Most generated tokens of one evaluation: grid points × prompts × maxTokens." })
  maxEvaluationTokens!: number;
  @Field(() => Float, { description: "Most generated tokens of one generation: preference vectors × maxTokens." })
  maxGenerationTokens!: number;
  @Field(() => Float, { description: "Most pair passes of one training job: training pairs × epochs." })
  maxTrainingPairPasses!: number;
}

@InputType("JobLimitsInput", { description: "The tenant's own per-job limits; an omitted or null field keeps the current value. Each in its PARM_MAX_* bounds." })
export class JobLimitsInput {
  @Field(() => Float, { nullable: true })
  maxGridPoints?: number | null;
  @Field(() => Float, { nullable: true })
  maxEvaluationTokens?: number | null;
  @Field(() => Float, { nullable: true })
  maxGenerationTokens?: number | null;
  @Field(() => Float, { nullable: true })
  maxTrainingPairPasses?: number | null;
}

@ObjectType("Tenant", { implements: Node })
export class Tenant extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => Int, { description: "Jobs that may be QUEUED or RUNNING at once." })
  maxConcurrentJobs!: number;
  @Field(() => Float, { description: "Total bytes of stored datasets." })
  maxDatasetBytes!: number;
  @Field(() => Float, { description: "Total bytes of uploaded model files the platform stores (files registered by location do not count)." })
  maxModelBytes!: number;
  @Field(() => JobLimits, { description: "The work one of the tenant's jobs may ask for: the server's limits with the tenant's own in place (LimitExceeded beyond)." })
  jobLimits!: JobLimits;
  @Field(() => Int, { description: "Mutation fields per minute (token bucket) before RATE_LIMITED." })
  mutationsPerMinute!: number;
  @Field(() => Date, { nullable: true, description: "When the platform admin suspended the tenant (its keys are refused); null when active." })
  suspendedAt!: Date | null;
  @Field(() => Date)
  createdAt!: Date;
}

export const TenantConnection = Connection(Tenant, "Tenant");

export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The quota fields of CreateTenantInput and UpdateTenantInput (null or omitted: default / unchanged). */
@InputType("TenantQuotasInput", { description: "Quota fields shared by CreateTenantInput and UpdateTenantInput." })
abstract class TenantQuotasInput {
  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxConcurrentJobs?: number | null;

  @Field(() => Float, { nullable: true })
  @IsOptional()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  maxDatasetBytes?: number | null;

  @Field(() => Float, { nullable: true })
  @IsOptional()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  maxModelBytes?: number | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  mutationsPerMinute?: number | null;

  @Field(() => JobLimitsInput, { nullable: true, description: "The tenant's own per-job work limits (in place of the server's)." })
  jobLimits?: JobLimitsInput | null;
}

@InputType("CreateTenantInput")
export class CreateTenantInput extends TenantQuotasInput {
  @Field(() => String, { description: "Unique; 1–63 of a-z 0-9 . _ - starting with a letter or digit." })
  @Length(1, 63)
  @Matches(TENANT_NAME_PATTERN, { message: "name must be 1–63 of a-z 0-9 . _ - starting with a letter or digit" })
  name!: string;

  @Field(() => String, { nullable: true, description: "Name of the first TENANT_ADMIN key (default \"admin\")." })
  @IsOptional()
  @Length(1, 100)
  adminKeyName?: string | null;
}

@ObjectType("CreateTenantSuccess")
export class CreateTenantSuccess {
  @Field(() => Tenant)
  tenant!: Tenant;
  @Field(() => ApiKey, { description: "The tenant's first key, role TENANT_ADMIN." })
  apiKey!: ApiKey;
  @Field(() => String, { description: "The full key. Shown once: only its hash is stored." })
  secret!: string;

  constructor(init?: { tenant: Tenant; apiKey: ApiKey; secret: string }) {
    if (init) Object.assign(this, init);
  }
}

export const CreateTenantPayload = createUnionType({
  name: "CreateTenantPayload",
  types: () => [CreateTenantSuccess, ValidationError] as const,
  resolveType: resolveAbstractType,
});

@InputType("UpdateTenantInput", { description: "Platform admin: change a tenant's quotas (omitted fields stay)." })
export class UpdateTenantInput extends TenantQuotasInput {
  @Field(() => ID)
  id!: string;
}

@ObjectType("UpdateTenantSuccess")
export class UpdateTenantSuccess {
  @Field(() => Tenant)
  tenant!: Tenant;
  constructor(init?: { tenant: Tenant }) {
    if (init) Object.assign(this, init);
  }
}

export const UpdateTenantPayload = createUnionType({
  name: "UpdateTenantPayload",
  types: () => [UpdateTenantSuccess, ValidationError, NotFoundError] as const,
  resolveType: resolveAbstractType,
});

@InputType("SuspendTenantInput", { description: "Platform admin: suspend (true) or resume (false) a tenant." })
export class SuspendTenantInput {
  @Field(() => ID)
  id!: string;
  @Field(() => Boolean)
  suspended!: boolean;
}

@ObjectType("SuspendTenantSuccess")
export class SuspendTenantSuccess {
  @Field(() => Tenant)
  tenant!: Tenant;
  @Field(() => [ID], { description: "Jobs the suspension cancelled (QUEUED ones at once; RUNNING ones stop at their next step)." })
  cancelledJobIds!: string[];
  constructor(init?: { tenant: Tenant; cancelledJobIds: string[] }) {
    if (init) Object.assign(this, init);
  }
}

export const SuspendTenantPayload = createUnionType({
  name: "SuspendTenantPayload",
  types: () => [SuspendTenantSuccess, ValidationError, NotFoundError] as const,
  resolveType: resolveAbstractType,
});

@InputType("DeleteTenantInput", { description: "Platform admin: delete a tenant with everything it owns." })
export class DeleteTenantInput {
  @Field(() => ID)
  id!: string;
}

@ObjectType("DeleteTenantSuccess")
export class DeleteTenantSuccess {
  @Field(() => ID, { description: "Global id of the deleted tenant." })
  deletedId!: string;
  constructor(init?: { deletedId: string }) {
    if (init) Object.assign(this, init);
  }
}

export const DeleteTenantPayload = createUnionType({
  name: "DeleteTenantPayload",
  types: () => [DeleteTenantSuccess, ValidationError, NotFoundError, ResourceInUse] as const,
  resolveType: resolveAbstractType,
});
