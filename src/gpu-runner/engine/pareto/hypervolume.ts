/**
 * @module engine/pareto/hypervolume
 * Exact hypervolume for maximization (parm-method.md §5, conventions.md §5):
 *   HV(S; z) = Λ( ∪_{s∈S, s > z} [z_1, s_1] × … × [z_k, s_k] ).
 * A point contributes only when it is strictly better than z in every objective; a point on or below z in any
 * objective spans an empty box. Values are used as given (no normalisation, negatives are fine): unlike pymoo
 * there is no sign flip to get wrong.
 *
 * Algorithms (exact up to floating-point rounding; integer inputs whose volumes stay below 2^53 are exact):
 *   k = 1: max − z;  k = 2: sweep over the first objective, O(n log n);
 *   k = 3: slab sweep over the third objective with an incrementally maintained 2-D front, O(n²);
 *   k ≥ 4: WFG (While, Bradstreet, Barone 2012): HV(S) = Σ_i [ vol(box(s_i)) − HV(nd(limit(s_i, S_{>i}))) ]
 *          with limit(p, Q) = { min(p, q) : q ∈ Q } and nd the non-dominated, duplicate-free subset; points are
 *          taken in decreasing last objective; the recursion ends at single points (one box).
 *
 * Reference point: explicit, or the stated rule "min-minus-margin": z_i = min_i − margin · span_i over all given
 * points, with span_i = max_i − min_i, or max(|min_i|, 1) when every point shares objective i. Every result
 * carries z and the rule that produced it.
 */
import { checkVectors, ParetoInputError, UnreachableCaseError } from "./errors.ts";

/** How the hypervolume reference point z is chosen. */
export type ReferencePointRule =
  | { readonly rule: "explicit"; readonly point: readonly number[] }
  | { readonly rule: "min-minus-margin"; readonly margin: number };

export interface HypervolumeResult {
  /** Λ of the region dominated by the points and dominating z. */
  readonly hypervolume: number;
  /** The z actually used. */
  readonly referencePoint: readonly number[];
  /** The rule that gave z (an explicit point is echoed). */
  readonly rule: ReferencePointRule;
  /** Indices of the points strictly better than z in every objective (the only ones that can contribute). */
  readonly contributingIndices: readonly number[];
}

/** z for `points` under `rule` (see the module doc for "min-minus-margin"). */
export function referencePoint(points: readonly (readonly number[])[], rule: ReferencePointRule): number[] {
  if (rule === null || typeof rule !== "object") {
    throw new ParetoInputError("INVALID_REFERENCE_RULE", `reference rule must be an object, got ${String(rule)}`);
  }
  switch (rule.rule) {
    case "explicit": {
      checkVectors([rule.point], "referencePoint.point");
      if (points.length > 0) checkVectors(points, "points", rule.point.length);
      return [...rule.point];
    }
    case "min-minus-margin": {
      if (typeof rule.margin !== "number" || !Number.isFinite(rule.margin) || rule.margin < 0) {
        throw new ParetoInputError(
          "INVALID_REFERENCE_RULE",
          `min-minus-margin needs a finite margin ≥ 0, got ${String(rule.margin)}`,
        );
      }
      if (points.length === 0) {
        throw new ParetoInputError("EMPTY_INPUT", "min-minus-margin needs at least one point to take minima over");
      }
      const k = checkVectors(points, "points");
      const z: number[] = [];
      for (let i = 0; i < k; i++) {
        let min = Infinity;
        let max = -Infinity;
        for (const p of points) {
          if (p[i] < min) min = p[i];
          if (p[i] > max) max = p[i];
        }
        const span = max > min ? max - min : Math.max(Math.abs(min), 1);
        z.push(min - rule.margin * span);
      }
      return z;
    }
    default:
      throw new ParetoInputError(
        "INVALID_REFERENCE_RULE",
        `unknown reference rule ${JSON.stringify((rule as { rule: unknown }).rule)}; expected "explicit" or "min-minus-margin"`,
      );
  }
}

/** Hypervolume of `points` (maximization) with respect to the explicit reference point `z`. */
export function hypervolume(points: readonly (readonly number[])[], z: readonly number[]): number {
  const k = checkVectors([z], "referencePoint");
  checkVectors(points, "points", k);
  return hypervolumeOfShifted(shiftAndFilter(points, z).shifted, k);
}

/** Hypervolume plus the reference point and rule used, ready to store beside the raw points. */
export function computeHypervolume(
  points: readonly (readonly number[])[],
  rule: ReferencePointRule,
): HypervolumeResult {
  const z = referencePoint(points, rule);
  checkVectors(points, "points", z.length);
  const { shifted, indices } = shiftAndFilter(points, z);
  return {
    hypervolume: hypervolumeOfShifted(shifted, z.length),
    referencePoint: z,
    rule: cloneRule(rule),
    contributingIndices: indices,
  };
}

function cloneRule(rule: ReferencePointRule): ReferencePointRule {
  switch (rule.rule) {
    case "explicit":
      return { rule: "explicit", point: [...rule.point] };
    case "min-minus-margin":
      return { rule: "min-minus-margin", margin: rule.margin };
    default:
      throw new UnreachableCaseError(rule);
  }
}

/** p − z for the points strictly better than z in every objective (so the reference becomes the origin). */
function shiftAndFilter(
  points: readonly (readonly number[])[],
  z: readonly number[],
): { shifted: number[][]; indices: number[] } {
  const shifted: number[][] = [];
  const indices: number[] = [];
  points.forEach((p, index) => {
    const q = new Array<number>(z.length);
    for (let i = 0; i < z.length; i++) {
      q[i] = p[i] - z[i];
      if (!(q[i] > 0)) return;
    }
    shifted.push(q);
    indices.push(index);
  });
  return { shifted, indices };
}

/** HV of points that are all > 0 in every coordinate, reference at the origin. */
function hypervolumeOfShifted(points: number[][], k: number): number {
  if (points.length === 0) return 0;
  switch (k) {
    case 1: {
      let best = 0;
      for (const p of points) if (p[0] > best) best = p[0];
      return best;
    }
    case 2:
      return hv2(points);
    case 3:
      return hv3(points);
    default:
      return wfg(nonDominatedUnique(points), k);
  }
}

/** 2-D: sort by x descending (ties: y descending); each point raising the running max y adds a strip. */
function hv2(points: readonly (readonly number[])[]): number {
  const sorted = [...points].sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  let area = 0;
  let maxY = 0;
  for (const p of sorted) {
    if (p[1] > maxY) {
      area += p[0] * (p[1] - maxY);
      maxY = p[1];
    }
  }
  return area;
}

/** 3-D: add points in decreasing third coordinate; between consecutive levels the cross-section is the 2-D HV of
 *  the points added so far, kept as a staircase (x ascending, y descending) whose area is updated per insertion. */
function hv3(points: readonly (readonly number[])[]): number {
  const sorted = [...points].sort((a, b) => b[2] - a[2]);
  const staircase: Staircase = { xs: [], ys: [] };
  let area = 0;
  let volume = 0;
  for (let n = 0; n < sorted.length; n++) {
    const [x, y, level] = sorted[n];
    area += insertIntoStaircase(staircase, x, y);
    const nextLevel = n + 1 < sorted.length ? sorted[n + 1][2] : 0;
    volume += area * (level - nextLevel);
  }
  return volume;
}

/** A 2-D non-dominated set: xs strictly ascending, ys strictly descending. Its area over the origin is
 *  ∫ h(t) dt with h(t) = ys[j] for t ∈ (xs[j−1], xs[j]] (xs[−1] = 0). */
interface Staircase {
  readonly xs: number[];
  readonly ys: number[];
}

/** Inserts (x, y) and returns the area gained (0 when a staircase point weakly dominates it). */
function insertIntoStaircase(staircase: Staircase, x: number, y: number): number {
  const { xs, ys } = staircase;
  let lo = 0; // first index with xs[lo] ≥ x
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo < xs.length && ys[lo] >= y) return 0;
  // Left of lo, the points with ys ≤ y (a contiguous run ending at lo − 1) become dominated.
  let first = lo;
  while (first > 0 && ys[first - 1] <= y) first--;
  // On (xs[j−1], xs[j]] for j in [first, lo) the height rises from ys[j] to y; on (xs[lo−1], x] from the height
  // of the first point at or right of x (or 0) to y; elsewhere nothing changes.
  let gain = 0;
  let left = first > 0 ? xs[first - 1] : 0;
  for (let j = first; j < lo; j++) {
    gain += (xs[j] - left) * (y - ys[j]);
    left = xs[j];
  }
  gain += (x - left) * (y - (lo < xs.length ? ys[lo] : 0));
  // A point exactly at x with a lower y is dominated as well.
  const end = lo < xs.length && xs[lo] === x ? lo + 1 : lo;
  xs.splice(first, end - first, x);
  ys.splice(first, end - first, y);
  return gain;
}

/** WFG for k ≥ 4 over non-dominated, duplicate-free points (reference at the origin). */
function wfg(points: number[][], k: number): number {
  if (points.length === 0) return 0;
  if (k <= 3) return hypervolumeOfShifted(points, k);
  if (points.length === 1) return boxVolume(points[0]);
  // Sorting by the last objective, descending, keeps limit sets small (WFG's standard ordering).
  const sorted = [...points].sort((a, b) => b[k - 1] - a[k - 1]);
  let volume = 0;
  for (let i = 0; i < sorted.length; i++) {
    volume += exclusiveVolume(sorted, i, k);
  }
  return volume;
}

function exclusiveVolume(sorted: readonly number[][], i: number, k: number): number {
  const p = sorted[i];
  const limited: number[][] = [];
  for (let j = i + 1; j < sorted.length; j++) {
    const q = sorted[j];
    const m = new Array<number>(k);
    for (let d = 0; d < k; d++) m[d] = q[d] < p[d] ? q[d] : p[d];
    limited.push(m);
  }
  return boxVolume(p) - wfg(nonDominatedUnique(limited), k);
}

function boxVolume(p: readonly number[]): number {
  let v = 1;
  for (const x of p) v *= x;
  return v;
}

/** Non-dominated subset with duplicates removed (no validation; internal use). */
function nonDominatedUnique(points: number[][]): number[][] {
  const kept: number[][] = [];
  outer: for (const p of points) {
    for (let i = 0; i < kept.length; i++) {
      const q = kept[i];
      if (weaklyDominates(q, p)) continue outer;
      if (weaklyDominates(p, q)) {
        kept.splice(i, 1);
        i--;
      }
    }
    kept.push(p);
  }
  return kept;
}

function weaklyDominates(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] < b[i]) return false;
  return true;
}
