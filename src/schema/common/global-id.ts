/** @module schema/common/global-id
 *  Relay global object ids: `base64("<TypeName>:<uuid>")`. The type name selects the loader in `node(id:)`;
 *  the uuid is the row's primary key. Decoding rejects anything that is not exactly that shape. */

/** A global id that is not base64 of `Type:uuid`, or names another type than the caller expected. */
export class InvalidGlobalIdError extends Error {
  readonly code = "INVALID_GLOBAL_ID" as const;
  constructor(readonly value: string, reason: string) {
    super(`invalid id "${value.length > 80 ? value.slice(0, 80) + "…" : value}": ${reason}`);
    this.name = "InvalidGlobalIdError";
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TYPE_NAME = /^[A-Z][A-Za-z0-9]*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Encodes a row id of a GraphQL type as an opaque global id. */
export function toGlobalId(typeName: string, uuid: string): string {
  if (!TYPE_NAME.test(typeName)) throw new TypeError(`toGlobalId: bad type name "${typeName}"`);
  if (!UUID.test(uuid)) throw new TypeError(`toGlobalId: "${uuid}" is not a uuid`);
  return Buffer.from(`${typeName}:${uuid.toLowerCase()}`, "utf8").toString("base64");
}

export interface DecodedGlobalId {
  typeName: string;
  uuid: string;
}

/** Decodes a global id; throws InvalidGlobalIdError when malformed, or when `expectedType` is given and differs. */
export function fromGlobalId(globalId: string, expectedType?: string): DecodedGlobalId {
  if (typeof globalId !== "string" || globalId.length === 0 || globalId.length > 200 || !BASE64.test(globalId)) {
    throw new InvalidGlobalIdError(String(globalId), "not a base64 global id");
  }
  const decoded = Buffer.from(globalId, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const typeName = colon > 0 ? decoded.slice(0, colon) : "";
  const uuid = colon > 0 ? decoded.slice(colon + 1) : "";
  if (!TYPE_NAME.test(typeName) || !UUID.test(uuid)) {
    throw new InvalidGlobalIdError(globalId, "expected base64 of \"Type:uuid\"");
  }
  if (expectedType !== undefined && typeName !== expectedType) {
    throw new InvalidGlobalIdError(globalId, `expected a ${expectedType} id, got a ${typeName} id`);
  }
  return { typeName, uuid: uuid.toLowerCase() };
}
