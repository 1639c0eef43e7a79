/** @module api/openai/openai-error
 *
 * Errors of the OpenAI-compatible routes in OpenAI's shape, `{ "error": { message, type, param, code } }`, and how
 * the platform's failures map to them:
 *
 * | failure | status | type | code |
 * |---|---|---|---|
 * | bad body, bad field (InputValidationError, α, vocabulary, per-job work limit) | 400 | invalid_request_error | null, invalid_preference_vector, vocabulary_mismatch, limit_exceeded |
 * | missing / malformed / unknown / revoked key (UNAUTHENTICATED) | 401 | invalid_request_error | invalid_api_key |
 * | admin key, suspended tenant (FORBIDDEN) | 403 | permission_error | forbidden |
 * | unknown `model` / `base_model` | 404 | invalid_request_error | model_not_found |
 * | mutation rate limit (RATE_LIMITED) | 429 + Retry-After | rate_limit_error | rate_limit_exceeded |
 * | concurrent-job quota (QuotaExceeded maxConcurrentJobs) | 429 + Retry-After | rate_limit_error | concurrent_jobs_exceeded |
 * | anything else | 500 | server_error | null (logged, never detailed) |
 *
 * A per-job work limit (LimitExceeded, e.g. preference vectors × max_tokens above PARM_MAX_GENERATION_TOKENS) is a
 * 400 on the field that lowers it, not a 429: the same request can never pass, and OpenAI clients retry 429s.
 * `param` names the request field (`max_tokens`, `preference`, `messages`, …), mapped from the services' input
 * paths by the caller's `paramOf`.
 */
import type { Response } from "express";
import { ErrorCode } from "../errors/index.ts";
import {
  DomainError,
  EntityNotFoundError,
  InputValidationError,
  JobLimitError,
  NameTakenError,
  PreferenceVectorError,
  TenantQuotaError,
  VocabularyMismatchError,
} from "../services/errors.ts";

export type OpenAiErrorType = "invalid_request_error" | "permission_error" | "rate_limit_error" | "server_error" | "timeout_error";

export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string | null };
}

/** A failure answered in OpenAI's shape with `status` (and `Retry-After` when `retryAfter` is set). */
export class OpenAiError extends Error {
  override readonly name = "OpenAiError";
  constructor(
    readonly status: number,
    readonly type: OpenAiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly retryAfter: number | null = null,
    /** False: answer `x-should-retry: false`, so OpenAI clients do not repeat the request on their own (a repeat
     *  would start another generation). */
    readonly retry: boolean | null = null,
  ) {
    super(message);
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 invalid_request_error on `param`. */
export function invalidRequest(param: string | null, message: string, code: string | null = null): OpenAiError {
  return new OpenAiError(400, "invalid_request_error", message, param, code);
}

/** 404 model_not_found on `param`. */
export function modelNotFound(param: string, id: string): OpenAiError {
  return new OpenAiError(404, "invalid_request_error", `The model '${id}' does not exist or you do not have access to it.`, param, "model_not_found");
}

/** Maps a service input path (`input.maxTokens`) to the request field it came from, or null. */
export type ParamOf = (field: string) => string | null;

const noParam: ParamOf = () => null;

function fromDomainError(error: DomainError, paramOf: ParamOf): OpenAiError | null {
  if (error instanceof InputValidationError || error instanceof NameTakenError) return invalidRequest(paramOf(error.field), error.message);
  if (error instanceof PreferenceVectorError) return invalidRequest(paramOf(error.field), error.message, "invalid_preference_vector");
  if (error instanceof VocabularyMismatchError) return invalidRequest(paramOf("input.baseModelId"), error.message, "vocabulary_mismatch");
  if (error instanceof JobLimitError) return invalidRequest(paramOf(error.field), error.message, "limit_exceeded");
  if (error instanceof EntityNotFoundError) {
    const param = error.entity === "Adapter" ? paramOf("input.adapterId") : paramOf("input.baseModelId");
    return error.entity === "Adapter" || error.entity === "Model" ? modelNotFound(param ?? "model", error.id) : invalidRequest(null, error.message);
  }
  if (error instanceof TenantQuotaError) {
    const code = error.quota === "CONCURRENT_JOBS" ? "concurrent_jobs_exceeded" : "quota_exceeded";
    return new OpenAiError(429, "rate_limit_error", error.message, null, code, error.retryAfterSeconds);
  }
  return null;
}

function fromApiError(error: unknown): OpenAiError | null {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === ErrorCode.UNAUTHENTICATED) return new OpenAiError(401, "invalid_request_error", message, null, "invalid_api_key");
  if (code === ErrorCode.FORBIDDEN) return new OpenAiError(403, "permission_error", message, null, "forbidden");
  if (code === ErrorCode.RATE_LIMITED) {
    const retryAfter = (error as { retryAfter?: number }).retryAfter ?? 60;
    return new OpenAiError(429, "rate_limit_error", message, null, "rate_limit_exceeded", retryAfter);
  }
  return null;
}

/** The OpenAiError for `error`; null for an unexpected one (a bug: the caller logs it and answers 500). */
export function toOpenAiError(error: unknown, paramOf: ParamOf = noParam): OpenAiError | null {
  if (error instanceof OpenAiError) return error;
  if (error instanceof DomainError) return fromDomainError(error, paramOf) ?? invalidRequest(null, error.message);
  return fromApiError(error);
}

/** The 500 answer to an unexpected failure (details are logged, never sent). */
export const internalError = (): OpenAiError => new OpenAiError(500, "server_error", "The server had an error while processing your request.");

/** Writes `error` as a JSON response with its status and headers. */
export function sendOpenAiError(res: Response, error: OpenAiError): void {
  if (error.retryAfter !== null) res.setHeader("retry-after", String(Math.max(1, Math.ceil(error.retryAfter))));
  if (error.status === 401) res.setHeader("www-authenticate", 'Bearer realm="parm"');
  if (error.retry === false) res.setHeader("x-should-retry", "false");
  res.status(error.status).json(error.body());
}
