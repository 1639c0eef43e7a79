/** @module schema/common
 *  Shared GraphQL building blocks: Node and Error interfaces, global ids, Relay connections with keyset
 *  pagination, common error union members and scalars. */
import "reflect-metadata";
export { Node, ErrorInterface, resolveAbstractType, withTypename } from "./node.ts";
export { toGlobalId, fromGlobalId, isUuid, InvalidGlobalIdError, type DecodedGlobalId } from "./global-id.ts";
export {
  Connection,
  ConnectionArgs,
  PageInfo,
  paginate,
  encodeCursor,
  decodeCursor,
  InvalidPaginationError,
  MAX_PAGE_SIZE,
  DEFAULT_PAGE_SIZE,
  type PageArgs,
  type Edge,
  type ConnectionResult,
  type KeysetQuery,
  type PaginateOptions,
  type CursorPosition,
} from "./connection.ts";
export { NotFoundError, ValidationError, InvalidPreferenceVector, QuotaExceeded, LimitExceeded } from "./errors.ts";
export { ResourceInUse, MAX_USED_BY } from "./resource-in-use.ts";
export { DateTimeScalar, JSONScalar } from "./scalars.ts";
