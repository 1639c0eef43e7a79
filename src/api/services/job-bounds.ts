/** @module api/services/job-bounds
 *
 * The submit-time checks that bound a job by the registered model and the server's work limits, shared by
 * training, generation and evaluation:
 * - sequence lengths against the base model's context (modelContextLength): defaults derived from it, anything
 *   that cannot fit refused on the field that sets it;
 * - adapter targets against the contract's ADAPTER_TARGET_NAMES;
 * - the work a job asks for against the tenant's JobLimits (the server's, contracts/job-limits.ts, with the tenant's
 *   own set by the platform admin in place), refused as JobLimitError.
 * A model whose context is unknown (a header without it) is bounded by the limits only; runners still refuse what
 * cannot fit, as a non-retryable failure.
 */
import { defaultMaxLength, defaultMaxPromptLength } from "../../contracts/index.ts";
import { ADAPTER_TARGET_NAMES, DEFAULT_JOB_LIMITS, tenantJobLimits, type JobLimits } from "../../contracts/index.ts";
import type { TenantServiceDeps } from "./deps.ts";
import { InputValidationError, JobLimitError } from "./errors.ts";
import { modelContextLength, type ModelRow } from "./models.ts";


/** The limits that bound the caller's jobs: the server's, with the tenant's own (Tenant.jobLimits) in place. */
export async function jobLimitsOf(deps: TenantServiceDeps): Promise<JobLimits> {
  const tenant = await deps.db.tenant.findFirst({ where: { id: deps.tenantId }, select: { jobLimits: true } });
  return tenantJobLimits(deps.jobLimits ?? DEFAULT_JOB_LIMITS, tenant?.jobLimits);
}

/** One amount of work to hold against a limit; `field` names the input that lowers it. */
export interface LimitCheck {
  limit: keyof JobLimits;
  requested: number;
  field: string;
  detail: string;
}

/**
 * Throws JobLimitError for the first check whose `requested` exceeds the caller's limit (read once), saying whether
 * the tenant's own limit applies.
 */
export async function assertWithinLimits(deps: TenantServiceDeps, checks: readonly LimitCheck[]): Promise<void> {
  const server = deps.jobLimits ?? DEFAULT_JOB_LIMITS;
  const limits = await jobLimitsOf(deps);
  for (const { limit, requested, field, detail } of checks) {
    const max = limits[limit];
    if (!(requested <= max)) throw new JobLimitError(limit, max, requested, field, detail, max === server[limit] ? "server" : "tenant");
  }
}

/** `maxLength` (given or contracts' defaultMaxLength(context)), refused on `field` when it exceeds the model's context. */
export function resolveMaxLength(base: ModelRow, given: number | null | undefined, field: string): number {
  const context = modelContextLength(base);
  const maxLength = given ?? defaultMaxLength(context);
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new InputValidationError(field, `must be an integer >= 2, got ${maxLength}`);
  if (context !== null && maxLength > context) {
    throw new InputValidationError(field, `must be at most the context length of model ${base.name} (${context} tokens), got ${maxLength}`);
  }
  return maxLength;
}

/** `maxPromptLength` (given or contracts' defaultMaxPromptLength(maxLength)); must leave room for a response. */
export function resolveMaxPromptLength(maxLength: number, given: number | null | undefined, field: string): number {
  const value = given ?? defaultMaxPromptLength(maxLength);
  if (!Number.isInteger(value) || value < 1) throw new InputValidationError(field, `must be an integer >= 1, got ${value}`);
  if (value >= maxLength) throw new InputValidationError(field, `must be smaller than maxLength (${maxLength})`);
  return value;
}

/** Refuses `maxTokens` that leaves no room for a prompt token in the model's context. */
export function checkMaxTokensFit(base: ModelRow, maxTokens: number, field: string): void {
  const context = modelContextLength(base);
  if (context !== null && maxTokens >= context) {
    throw new InputValidationError(field, `must be smaller than the context length of model ${base.name} (${context} tokens), got ${maxTokens}`);
  }
}

/**
 * Evaluation prompts keep their last `maxPromptTokens` tokens: given, it must fit beside maxTokens in the context;
 * absent, it is the context minus maxTokens (null when the context is unknown: the runner derives it).
 */
export function resolveMaxPromptTokens(base: ModelRow, maxTokens: number, given: number | null | undefined, field: string): number | null {
  const context = modelContextLength(base);
  if (given === null || given === undefined) return context === null ? null : context - maxTokens;
  if (!Number.isInteger(given) || given < 1) throw new InputValidationError(field, `must be an integer >= 1, got ${given}`);
  if (context !== null && given + maxTokens > context) {
    throw new InputValidationError(field, `with maxTokens ${maxTokens} must be at most ${context - maxTokens} (model ${base.name} holds ${context} tokens), got ${given}`);
  }
  return given;
}

/** Refuses a target the engine does not know, naming its index. */
export function checkAdapterTargets(targets: readonly string[], field: string): void {
  if (targets.length === 0) throw new InputValidationError(field, "name at least one projection, e.g. q_proj");
  targets.forEach((target, i) => {
    if (!Object.hasOwn(ADAPTER_TARGET_NAMES, target)) {
      throw new InputValidationError(`${field}[${i}]`, `unknown adapter target ${JSON.stringify(target)}; use one of ${Object.keys(ADAPTER_TARGET_NAMES).join(", ")}`);
    }
  });
}
