/** @module api/errors/api-errors
 *  Named GraphQL errors of the API. Each is a GraphQLError whose `extensions.code` is an ErrorCode and whose
 *  `extensions.http` carries the HTTP status Apollo Server applies (removed from the response body by Apollo). */
import { GraphQLError } from "graphql";
import { ErrorCode } from "./codes.ts";

interface HttpHead {
  status: number;
  headers?: Map<string, string>;
}

export abstract class ApiError extends GraphQLError {
  abstract readonly code: ErrorCode;
  protected constructor(
    code: ErrorCode,
    message: string,
    options: { http?: HttpHead; extensions?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, {
      extensions: { ...options.extensions, code, ...(options.http ? { http: options.http } : {}) },
      originalError: options.cause instanceof Error ? options.cause : undefined,
    });
    this.name = new.target.name;
  }
}

export class UnauthenticatedError extends ApiError {
  readonly code = ErrorCode.UNAUTHENTICATED;
  constructor(message = "authentication required: send `Authorization: Bearer <api key>`") {
    super(ErrorCode.UNAUTHENTICATED, message, {
      http: { status: 401, headers: new Map([["www-authenticate", 'Bearer realm="parm"']]) },
    });
  }
}

export class ForbiddenError extends ApiError {
  readonly code = ErrorCode.FORBIDDEN;
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message, { http: { status: 403 } });
  }
}

export class RateLimitedError extends ApiError {
  readonly code = ErrorCode.RATE_LIMITED;
  /** Whole seconds until one more mutation is allowed (≥ 1). */
  readonly retryAfter: number;
  constructor(retryAfter: number, limitPerMinute: number) {
    const seconds = Math.max(1, Math.ceil(retryAfter));
    super(
      ErrorCode.RATE_LIMITED,
      `rate limit exceeded: this tenant may run ${limitPerMinute} mutation fields per minute; retry after ${seconds} s`,
      {
        http: { status: 429, headers: new Map([["retry-after", String(seconds)]]) },
        extensions: { retryAfter: seconds, limitPerMinute },
      },
    );
    this.retryAfter = seconds;
  }
}

export class BadUserInputError extends ApiError {
  readonly code = ErrorCode.BAD_USER_INPUT;
  constructor(message: string, options: { argument?: string; cause?: unknown; details?: unknown } = {}) {
    super(ErrorCode.BAD_USER_INPUT, message, {
      extensions: {
        ...(options.argument !== undefined ? { argument: options.argument } : {}),
        ...(options.details !== undefined ? { details: options.details } : {}),
      },
      cause: options.cause,
    });
  }
}

/** The error that ends a subscription to a job which ended FAILED or CANCELLED (the stream's last message). */
export class JobEndedError extends ApiError {
  readonly code: typeof ErrorCode.JOB_FAILED | typeof ErrorCode.JOB_CANCELLED;
  constructor(status: "FAILED" | "CANCELLED", jobId: string, reason: string | null) {
    const code = status === "FAILED" ? ErrorCode.JOB_FAILED : ErrorCode.JOB_CANCELLED;
    super(code, `job ${jobId} ${status === "FAILED" ? "failed" : "was cancelled"}${reason ? `: ${reason}` : ""}`, {
      extensions: { jobId, reason },
    });
    this.code = code;
  }
}

export class InternalServerError extends ApiError {
  readonly code = ErrorCode.INTERNAL_SERVER_ERROR;
  constructor(cause?: unknown) {
    super(ErrorCode.INTERNAL_SERVER_ERROR, "internal server error", { cause });
  }
}
