/** @module api/errors/codes
 *  Public `extensions.code` values of top-level GraphQL errors. Expected domain failures are NOT here: they are
 *  union members (schema/common/errors). HTTP status each code sets on `/graphql` responses is given alongside. */
export const ErrorCode = {
  /** No credentials, or a malformed, unknown or revoked API key. HTTP 401. */
  UNAUTHENTICATED: "UNAUTHENTICATED",
  /** Authenticated but the role may not do this (e.g. a MEMBER managing keys, a tenant calling admin fields). HTTP 403. */
  FORBIDDEN: "FORBIDDEN",
  /** The tenant's mutation budget is spent; `extensions.retryAfter` (seconds) says when to retry. HTTP 429. */
  RATE_LIMITED: "RATE_LIMITED",
  /** A malformed argument the schema cannot express (bad global id, bad cursor, validation constraints). */
  BAD_USER_INPUT: "BAD_USER_INPUT",
  /** The operation exceeds the cost limit. HTTP 400. */
  QUERY_TOO_COMPLEX: "QUERY_TOO_COMPLEX",
  /** The operation nests deeper than the depth limit. HTTP 400. */
  QUERY_TOO_DEEP: "QUERY_TOO_DEEP",
  /** Too many aliases, directives or tokens in the operation, or too many recursive selections. HTTP 400. */
  QUERY_TOO_LARGE: "QUERY_TOO_LARGE",
  /** The request body exceeds the JSON body limit. HTTP 413. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** Ends a subscription to a job that failed: `extensions.jobId`, `extensions.reason` (`<code>: <reason>`). What was
   *  streamed before it (tokens, points, events) stays valid and stored. */
  JOB_FAILED: "JOB_FAILED",
  /** Ends a subscription to a job that was cancelled: `extensions.jobId`, `extensions.reason`. */
  JOB_CANCELLED: "JOB_CANCELLED",
  /** A bug or an unavailable dependency; details are logged, never returned. HTTP 500 when nothing resolved. */
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
