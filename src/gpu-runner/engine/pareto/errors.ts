/**
 * @module engine/pareto/errors
 * Typed failures of the Pareto metrics: every bad input raises a {@link ParetoInputError} whose `code` says which
 * rule was broken and whose message names the offending argument, index and value.
 */
import { EngineError } from "../util/errors.ts";

export { UnreachableCaseError } from "../util/errors.ts";

/** Machine-readable reasons a Pareto computation refused its input. */
export type ParetoErrorCode =
  | "INVALID_OBJECTIVE_COUNT"
  | "INVALID_STEP"
  | "GRID_TOO_LARGE"
  | "DIMENSION_MISMATCH"
  | "NON_FINITE_VALUE"
  | "INVALID_REFERENCE_RULE"
  | "INVALID_ALPHA"
  | "DUPLICATE_ALPHA"
  | "EMPTY_INPUT"
  | "INVALID_OBJECTIVE_NAMES"
  | "INVALID_PLOT_OPTIONS";

/** Raised for caller mistakes (bad shapes, NaN, an unusable step or reference rule). */
export class ParetoInputError extends EngineError<ParetoErrorCode> {
  static override readonly category = "invalid-input";
  override readonly name = "ParetoInputError";
}


/** Checks that `vectors` is a list of finite number vectors all of length `k` (or of the first vector's length
 *  when `k` is omitted) and returns that length; `what` names the argument in error messages. */
export function checkVectors(vectors: readonly (readonly number[])[], what: string, k?: number): number {
  const expected = k ?? (vectors.length > 0 ? vectors[0].length : 0);
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i];
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
      throw new ParetoInputError("DIMENSION_MISMATCH", `${what}[${i}] is not an array`);
    }
    if (v.length !== expected) {
      throw new ParetoInputError(
        "DIMENSION_MISMATCH",
        `${what}[${i}] has ${v.length} objectives, expected ${expected}`,
      );
    }
    for (let j = 0; j < v.length; j++) {
      if (typeof v[j] !== "number" || !Number.isFinite(v[j])) {
        throw new ParetoInputError("NON_FINITE_VALUE", `${what}[${i}][${j}] is ${String(v[j])}, expected a finite number`);
      }
    }
  }
  return expected;
}
