/**
 * @module engine/pareto/front
 * Non-dominated filtering for maximization (parm-method.md §5): a dominates b when a_i ≥ b_i for every objective
 * and a_i > b_i for at least one.
 *
 * Duplicates: identical points do not dominate each other, so under the default `duplicates: "keep-all"` every
 * copy of a non-dominated point is on the front (each α that reached it is reported). `"keep-first"` keeps only
 * the first index of each group of identical non-dominated points (what a hypervolume routine wants).
 */
import { checkVectors, UnreachableCaseError } from "./errors.ts";

export type DuplicatePolicy = "keep-all" | "keep-first";

export interface ParetoFrontOptions {
  readonly duplicates?: DuplicatePolicy;
}

/** True when `a` dominates `b` under maximization (≥ on all objectives, > on at least one). */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strictlyBetter = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return false;
    if (a[i] > b[i]) strictlyBetter = true;
  }
  return strictlyBetter;
}

/** Indices (ascending, into `points`) of the non-dominated points. O(n²·k); validates shapes and finiteness. */
export function paretoFrontIndices(points: readonly (readonly number[])[], options: ParetoFrontOptions = {}): number[] {
  checkVectors(points, "points");
  const policy = options.duplicates ?? "keep-all";
  const front: number[] = [];
  for (let i = 0; i < points.length; i++) {
    let keep = true;
    for (let j = 0; j < points.length && keep; j++) {
      if (j === i) continue;
      if (dominates(points[j], points[i])) keep = false;
      else if (j < i && isDuplicateDropped(policy) && sameVector(points[j], points[i])) keep = false;
    }
    if (keep) front.push(i);
  }
  return front;
}

/** The non-dominated points themselves, in input order, each with its index into `points`. */
export function paretoFront(
  points: readonly (readonly number[])[],
  options: ParetoFrontOptions = {},
): { index: number; point: readonly number[] }[] {
  return paretoFrontIndices(points, options).map((index) => ({ index, point: points[index] }));
}

function isDuplicateDropped(policy: DuplicatePolicy): boolean {
  switch (policy) {
    case "keep-all":
      return false;
    case "keep-first":
      return true;
    default:
      throw new UnreachableCaseError(policy);
  }
}

function sameVector(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
