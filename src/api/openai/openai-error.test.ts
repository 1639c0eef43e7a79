import { test } from "node:test";
import assert from "node:assert/strict";
import { ForbiddenError, RateLimitedError, UnauthenticatedError } from "../errors/index.ts";
import { EntityNotFoundError, InputValidationError, JobLimitError, TenantQuotaError } from "../services/errors.ts";
import { toOpenAiError } from "./openai-error.ts";

const paramOf = (field: string) => ({ "input.maxTokens": "max_tokens", "input.adapterId": "model" })[field] ?? null;

test("platform failures map to OpenAI statuses, types, params and codes", () => {
  const shape = (error: unknown) => {
    const e = toOpenAiError(error, paramOf);
    return e && [e.status, e.type, e.param, e.code, e.retryAfter];
  };
  assert.deepEqual(shape(new InputValidationError("input.maxTokens", "too big")), [400, "invalid_request_error", "max_tokens", null, null]);
  assert.deepEqual(shape(new JobLimitError("maxGenerationTokens", 10, 20, "input.maxTokens", "x")), [400, "invalid_request_error", "max_tokens", "limit_exceeded", null]);
  assert.deepEqual(shape(new EntityNotFoundError("Adapter", "u")), [404, "invalid_request_error", "model", "model_not_found", null]);
  assert.deepEqual(shape(new TenantQuotaError("CONCURRENT_JOBS", 1, 1, 1, 30)), [429, "rate_limit_error", null, "concurrent_jobs_exceeded", 30]);
  assert.deepEqual(shape(new RateLimitedError(2.5, 6)), [429, "rate_limit_error", null, "rate_limit_exceeded", 3]);
  assert.deepEqual(shape(new UnauthenticatedError()), [401, "invalid_request_error", null, "invalid_api_key", null]);
  assert.deepEqual(shape(new ForbiddenError("no")), [403, "permission_error", null, "forbidden", null]);
  assert.equal(toOpenAiError(new Error("bug")), null, "a bug is the caller's 500");
  assert.deepEqual(toOpenAiError(new InputValidationError("input.x", "bad"))!.body(), {
    error: { message: "input.x: bad", type: "invalid_request_error", param: null, code: null },
  });
});
