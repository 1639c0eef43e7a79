/** @module contracts/preference — the preference vector α: one weight per dimension, on the probability simplex. */

/** Allowed deviation of Σα from 1. */
export const PREFERENCE_SUM_TOLERANCE = 1e-6;

export const PREFERENCE_PROBLEM_CODES = ["WRONG_LENGTH", "NOT_FINITE", "NEGATIVE", "NOT_NORMALIZED"] as const;
export type PreferenceProblemCode = (typeof PREFERENCE_PROBLEM_CODES)[number];

/** Why a vector is not a valid α; `index` names the offending entry where there is one. */
export interface PreferenceProblem {
  readonly code: PreferenceProblemCode;
  readonly message: string;
  readonly index?: number;
}

/**
 * Checks α against the tenant's dimensions: exactly `dimensionCount` entries (in dimension position order),
 * each finite and ≥ 0, summing to 1 within {@link PREFERENCE_SUM_TOLERANCE}. Returns the first problem or null.
 * Checks run in the order length → finiteness → sign → sum, so one vector reports one problem.
 */
export function validatePreferenceVector(alpha: readonly number[], dimensionCount: number): PreferenceProblem | null {
  if (!Number.isInteger(dimensionCount) || dimensionCount < 1) {
    throw new RangeError(`dimensionCount must be a positive integer, got ${dimensionCount}`);
  }
  if (alpha.length !== dimensionCount) {
    return {
      code: "WRONG_LENGTH",
      message: `preference vector has ${alpha.length} entries; expected one per dimension (${dimensionCount})`,
    };
  }
  for (let index = 0; index < alpha.length; index++) {
    const value = alpha[index];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return { code: "NOT_FINITE", message: `alpha[${index}] is ${String(value)}; entries must be finite numbers`, index };
    }
  }
  for (let index = 0; index < alpha.length; index++) {
    if (alpha[index] < 0) {
      return { code: "NEGATIVE", message: `alpha[${index}] is ${alpha[index]}; entries must be >= 0`, index };
    }
  }
  const sum = alpha.reduce((acc, value) => acc + value, 0);
  if (Math.abs(sum - 1) > PREFERENCE_SUM_TOLERANCE) {
    return {
      code: "NOT_NORMALIZED",
      message: `preference vector sums to ${sum}; entries must sum to 1 (tolerance ${PREFERENCE_SUM_TOLERANCE})`,
    };
  }
  return null;
}
