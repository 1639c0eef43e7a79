/** @module api/db/json — the one place where typed values cross Prisma's Json columns. The api is the only writer
 *  of these columns (job payloads, reports, progress, split ratios, sampling, outputs): what it reads back is what
 *  it stored, so the read side names the stored type instead of re-validating it. */
import type { Prisma } from "./generated/client.ts";

/** `value` (a JSON-serialisable object or array: plain data of strings, numbers, booleans, null) as the input of a
 *  Json column. */
export function jsonInput(value: object): Prisma.InputJsonValue {
  return value as Prisma.InputJsonValue;
}

/** A Json column's value as the type its writer stored. */
export function storedJson<T>(value: Prisma.JsonValue): T {
  return value as unknown as T;
}
