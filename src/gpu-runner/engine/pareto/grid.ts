/**
 * @module engine/pareto/grid
 * Preference vectors evenly spaced on the probability simplex (parm-method.md §5: k = 2, step 0.1 gives the
 * paper's 11 vectors (0,1), (0.1,0.9), …, (1,0)).
 *
 * Exactness: with n = 1/step divisions, every grid vector is an integer composition c of n into k parts and its
 * entries are computed as `c_i / n` (one IEEE division each), so 0.3 is exactly the double `3 / 10` and no error
 * accumulates from repeated additions. The entries of one vector sum to 1 up to one rounding per entry.
 *
 * Order: lexicographic ascending in the integer counts (c_1, …, c_k) — first entry slowest, the last entry implied.
 * k = 2: (0,1), (0.1,0.9), …, (1,0). k = 3: (0,0,1), (0,0.1,0.9), …, (0,1,0), (0.1,0,0.9), …, (1,0,0).
 */
import { ParetoInputError } from "./errors.ts";

/** Default upper bound on the number of vectors a grid may hold (guards against k = 10, step 0.01 by mistake). */
export const DEFAULT_MAX_GRID_POINTS = 1_000_000;

/** Relative tolerance with which 1/step must be an integer (0.1 gives 10.000000000000002 in binary). */
const DIVISIONS_TOLERANCE = 1e-9;

/** Number of compositions of `divisions` into `k` non-negative parts: C(divisions + k − 1, k − 1). */
export function simplexGridSize(k: number, divisions: number): number {
  checkObjectiveCount(k);
  checkDivisions(divisions);
  let size = 1;
  for (let i = 1; i <= k - 1; i++) size = (size * (divisions + i)) / i;
  return Math.round(size);
}

/** Converts a step (e.g. 0.1) to its integer number of divisions (10); throws INVALID_STEP when 1/step is not an
 *  integer within a relative 1e-9. */
export function divisionsForStep(step: number): number {
  if (typeof step !== "number" || !Number.isFinite(step) || step <= 0 || step > 1) {
    throw new ParetoInputError("INVALID_STEP", `step must be a finite number in (0, 1], got ${String(step)}`);
  }
  const inverse = 1 / step;
  const divisions = Math.round(inverse);
  if (Math.abs(inverse - divisions) > DIVISIONS_TOLERANCE * divisions) {
    throw new ParetoInputError(
      "INVALID_STEP",
      `step ${step} does not divide 1 evenly (1/step = ${inverse}, not an integer)`,
    );
  }
  return divisions;
}

export interface SimplexGridOptions {
  /** Refuse grids with more vectors than this (default {@link DEFAULT_MAX_GRID_POINTS}). */
  readonly maxPoints?: number;
}

/** All α ∈ Δ^{k−1} whose entries are multiples of `step`, in the order stated in the module doc. */
export function simplexGrid(k: number, step: number, options: SimplexGridOptions = {}): number[][] {
  return simplexGridByDivisions(k, divisionsForStep(step), options);
}

/** As {@link simplexGrid}, with the spacing given as the integer number of divisions n (step = 1/n). */
export function simplexGridByDivisions(k: number, divisions: number, options: SimplexGridOptions = {}): number[][] {
  checkObjectiveCount(k);
  checkDivisions(divisions);
  const maxPoints = options.maxPoints ?? DEFAULT_MAX_GRID_POINTS;
  const size = simplexGridSize(k, divisions);
  if (size > maxPoints) {
    throw new ParetoInputError(
      "GRID_TOO_LARGE",
      `simplex grid for k=${k}, ${divisions} divisions has ${size} vectors, above maxPoints=${maxPoints}`,
    );
  }
  const grid: number[][] = [];
  const counts = new Array<number>(k).fill(0);
  const visit = (position: number, remaining: number): void => {
    if (position === k - 1) {
      counts[position] = remaining;
      grid.push(counts.map((c) => c / divisions));
      return;
    }
    for (let c = 0; c <= remaining; c++) {
      counts[position] = c;
      visit(position + 1, remaining - c);
    }
  };
  visit(0, divisions);
  return grid;
}

function checkObjectiveCount(k: number): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new ParetoInputError("INVALID_OBJECTIVE_COUNT", `k (number of objectives) must be an integer ≥ 1, got ${String(k)}`);
  }
}

function checkDivisions(divisions: number): void {
  if (!Number.isInteger(divisions) || divisions < 1) {
    throw new ParetoInputError("INVALID_STEP", `divisions must be an integer ≥ 1, got ${String(divisions)}`);
  }
}

/** Largest |Σα − 1| accepted for a preference vector given by a caller. */
export const SIMPLEX_SUM_TOLERANCE = 1e-9;

/** Checks that `alpha` is a finite, non-negative vector of length `k` summing to 1 within
 *  {@link SIMPLEX_SUM_TOLERANCE}; `what` names it in the error. */
export function checkSimplexVector(alpha: readonly number[], k: number, what: string): void {
  if (!Array.isArray(alpha) || alpha.length !== k) {
    throw new ParetoInputError(
      "INVALID_ALPHA",
      `${what} must be an array of ${k} weights, got ${Array.isArray(alpha) ? `${alpha.length} entries` : String(alpha)}`,
    );
  }
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const a = alpha[i];
    if (typeof a !== "number" || !Number.isFinite(a) || a < 0) {
      throw new ParetoInputError("INVALID_ALPHA", `${what}[${i}] is ${String(a)}, expected a finite weight ≥ 0`);
    }
    sum += a;
  }
  if (Math.abs(sum - 1) > SIMPLEX_SUM_TOLERANCE) {
    throw new ParetoInputError("INVALID_ALPHA", `${what} sums to ${sum}, expected 1 (a point of the simplex)`);
  }
}
