/** @module api/errors/prisma
 *  Recognising Prisma's known request errors without importing the generated client here. */

/** True for Prisma's unique-constraint violation (P2002), whichever constraint. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

/** True when a Prisma operation found no row to update or delete (P2025). */
export function isRecordNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2025";
}
