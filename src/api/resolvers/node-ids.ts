/** @module api/resolvers/node-ids
 *  Decoding global ids given as arguments. In queries a malformed id is a top-level BAD_USER_INPUT
 *  (`fromGlobalId` throws and `toGraphQLError` maps it); in mutation inputs it is a ValidationError union member
 *  naming the field, via `decodeIdInput`. */
import { InvalidGlobalIdError, ValidationError, fromGlobalId } from "../../schema/common/index.ts";

export type DecodedIdInput = { ok: true; uuid: string } | { ok: false; error: ValidationError };

/** Decodes `globalId` expecting `typeName`; a malformed id or one of another type yields a ValidationError on `field`. */
export function decodeIdInput(globalId: string, typeName: string, field: string): DecodedIdInput {
  try {
    return { ok: true, uuid: fromGlobalId(globalId, typeName).uuid };
  } catch (error) {
    if (error instanceof InvalidGlobalIdError) {
      return { ok: false, error: new ValidationError({ field, message: error.message }) };
    }
    throw error;
  }
}
