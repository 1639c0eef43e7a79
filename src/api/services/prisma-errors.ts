/** @module api/services/prisma-errors — recognising PostgreSQL constraint failures surfaced by Prisma. */

/** True for a unique-constraint violation (Prisma P2002, or PostgreSQL 23505 through the driver adapter). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; meta?: { code?: unknown; driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } }; cause?: unknown };
  if (e.code === "P2002" || e.code === "23505") return true;
  const cause = e.meta?.driverAdapterError?.cause;
  if (cause && (cause.kind === "UniqueConstraintViolation" || cause.originalCode === "23505")) return true;
  return false;
}
