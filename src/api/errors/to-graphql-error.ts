/** @module api/errors/to-graphql-error
 *  The one mapping from anything thrown to a client-safe GraphQLError (tRPC's getTRPCErrorFromUnknown pattern).
 *  Known input errors (bad global id, bad cursor, argument validation) become BAD_USER_INPUT with their message;
 *  GraphQLErrors with a code pass through; everything else becomes INTERNAL_SERVER_ERROR with the cause kept
 *  (`originalError`) for logging but never exposed. */
import { GraphQLError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { BadUserInputError, InternalServerError } from "./api-errors.ts";
import { ErrorCode } from "./codes.ts";

const INPUT_ERROR_CODES = new Set(["INVALID_GLOBAL_ID", "INVALID_PAGINATION"]);

interface ConstraintFailure {
  property: string;
  constraints?: Record<string, string>;
  children?: ConstraintFailure[];
}

function flattenValidation(errors: ConstraintFailure[], prefix = ""): { field: string; problems: string[] }[] {
  const out: { field: string; problems: string[] }[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints) out.push({ field, problems: Object.values(e.constraints) });
    if (e.children?.length) out.push(...flattenValidation(e.children, field));
  }
  return out;
}

function codeOf(error: unknown): string | undefined {
  if (error && typeof error === "object" && "code" in error && typeof (error as { code: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return undefined;
}

/** True when an error is one the client caused and may see (everything but INTERNAL_SERVER_ERROR). */
export function isClientSafe(error: GraphQLError): boolean {
  return error.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR;
}

export function toGraphQLError(thrown: unknown): GraphQLError {
  const error = unwrapResolverError(thrown);
  const code = codeOf(error);
  if (code !== undefined && INPUT_ERROR_CODES.has(code) && error instanceof Error) {
    return new BadUserInputError(error.message, {
      argument: (error as { argument?: string }).argument,
      cause: error,
    });
  }
  if (error instanceof GraphQLError) {
    const validationErrors = error.extensions?.validationErrors;
    if (Array.isArray(validationErrors)) {
      const fields = flattenValidation(validationErrors as ConstraintFailure[]);
      const summary = fields.map((f) => f.problems.join("; ")).join("; ");
      return new BadUserInputError(`invalid argument: ${summary || error.message}`, { details: fields, cause: error });
    }
    if (typeof error.extensions?.code === "string") return error;
  }
  return new InternalServerError(error);
}
