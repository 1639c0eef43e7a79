/** @module api/resolvers/node-ids
 *  Decoding global ids given as arguments. In queries a malformed id is a top-level BAD_USER_INPUT
 *  (`fromGlobalId` throws and `toGraphQLError` maps it); in mutation inputs it is a ValidationError union member
 *  naming the field: `inputId` throws InputValidationError, which `asPayload` maps. */
import { InvalidGlobalIdError, fromGlobalId } from "../../schema/common/index.ts";
import { InputValidationError } from "../services/errors.ts";

/** Decodes a global id of `typeName` in a mutation input; a malformed id or one of another type throws
 *  InputValidationError on `field`. */
export function inputId(globalId: string, typeName: string, field: string): string {
  try {
    return fromGlobalId(globalId, typeName).uuid;
  } catch (error) {
    if (error instanceof InvalidGlobalIdError) throw new InputValidationError(field, error.message);
    throw error;
  }
}
