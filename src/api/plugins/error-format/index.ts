/** @module api/plugins/error-format
 *  The last step for every error sent to a client (HTTP and WebSocket): anything thrown is mapped by
 *  `toGraphQLError`; internal errors are logged with their cause and returned as "internal server error"; limit
 *  violations get their limit code instead of GRAPHQL_VALIDATION_FAILED / GRAPHQL_PARSE_FAILED /
 *  MAX_RECURSIVE_SELECTIONS_EXCEEDED. Stack traces are never returned. */
import type { GraphQLFormattedError } from "graphql";
import { GraphQLError } from "graphql";
import { ErrorCode, toGraphQLError } from "../../errors/index.ts";
import type { Logger } from "../../server/logger.ts";
import { TOKEN_LIMIT_MESSAGE } from "../query-limits/index.ts";

export function createErrorFormatter(log: Logger) {
  return function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const limitCode = formatted.extensions?.limitCode;
    if (typeof limitCode === "string") {
      const { limitCode: _omit, ...rest } = formatted.extensions ?? {};
      return { ...formatted, extensions: { ...rest, code: limitCode } };
    }
    const code = formatted.extensions?.code;
    if (code === "GRAPHQL_PARSE_FAILED" && TOKEN_LIMIT_MESSAGE.test(formatted.message)) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.QUERY_TOO_LARGE } };
    }
    if (formatted.extensions?.validationErrorCode === "MAX_RECURSIVE_SELECTIONS_EXCEEDED") {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.QUERY_TOO_LARGE } };
    }
    // Apollo's own request errors (parse, validation, bad request, persisted queries) pass as they are.
    if (typeof code === "string" && code !== ErrorCode.INTERNAL_SERVER_ERROR && !(error instanceof GraphQLError && error.path)) {
      return formatted;
    }
    const mapped = toGraphQLError(error);
    const mappedCode = mapped.extensions.code;
    if (mappedCode === ErrorCode.INTERNAL_SERVER_ERROR) {
      const cause = mapped.originalError ?? error;
      log.error("internal error", {
        path: formatted.path?.join("."),
        error: cause instanceof Error ? cause : new Error(String(cause)),
      });
    }
    const { http: _http, ...extensions } = mapped.extensions as Record<string, unknown>;
    return {
      message: mapped.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions,
    };
  };
}

/** Formats a GraphQLError for a transport without Apollo's pipeline (graphql-ws). */
export function formatForClient(formatError: ReturnType<typeof createErrorFormatter>, error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON();
  const { http: _http, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
  return formatError({ ...json, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, ...extensions } }, error);
}
