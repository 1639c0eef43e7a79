/** @module api/errors
 *  Top-level error tier of the API (auth, rate limits, bad input the schema cannot express, bugs). */
export { ErrorCode } from "./codes.ts";
export {
  ApiError,
  UnauthenticatedError,
  ForbiddenError,
  RateLimitedError,
  BadUserInputError,
  InternalServerError,
  JobEndedError,
} from "./api-errors.ts";
export { UnreachableCaseError } from "../../contracts/index.ts";
export { toGraphQLError, isClientSafe } from "./to-graphql-error.ts";
export { isUniqueViolation, isRecordNotFound } from "./prisma.ts";
