/** @module api/errors/prisma
 *  Recognising Prisma's known request errors and PostgreSQL constraint failures without importing the generated
 *  client here. */

/** True for a unique-constraint violation, whichever constraint: Prisma's P2002, PostgreSQL's 23505 as the code,
 *  or 23505 / UniqueConstraintViolation inside the driver adapter's error. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } } };
  if (e.code === "P2002" || e.code === "23505") return true;
  const cause = e.meta?.driverAdapterError?.cause;
  return !!cause && (cause.kind === "UniqueConstraintViolation" || cause.originalCode === "23505");
}

/** True when a Prisma operation found no row to update or delete (P2025). */
export function isRecordNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2025";
}
