/**
 * @module engine/pareto/report
 * The evaluation sweep's final report (parm-method.md §5): for every α of the grid its mean reward vector, which
 * points are on the Pareto front, the hypervolume with the reference point and rule that produced it, MIP, and
 * optional baselines (other methods' points, e.g. the base model or GenARM), each with its own HV under the same z.
 * The report is plain JSON (all numbers finite) so it can be stored and re-plotted.
 *
 * Reference point: `referencePoint` (explicit) or `rule`; with neither, {@link DEFAULT_REFERENCE_RULE}. Rules:
 *   "explicit"          z as given;
 *   "min-minus-margin"  per objective, min − margin·span over the sweep points AND all baseline points
 *                       ("the minimum over all methods' points"), span as in hypervolume.ts;
 *   "baseline"          z = the rewards of the one baseline point with that name (e.g. the base model).
 */
import { checkVectors, ParetoInputError, UnreachableCaseError } from "./errors.ts";
import { checkSimplexVector } from "./grid.ts";
import { dominates, paretoFrontIndices } from "./front.ts";
import { hypervolume, referencePoint, type ReferencePointRule } from "./hypervolume.ts";
import { innerProduct, meanInnerProduct, type AlphaRewards } from "./mip.ts";

/** Reference rules a report accepts: the hypervolume rules plus "the point of this baseline". */
export type ReportReferenceRule = ReferencePointRule | { readonly rule: "baseline"; readonly name: string };

export const DEFAULT_REFERENCE_RULE: ReportReferenceRule = { rule: "min-minus-margin", margin: 0.1 };

/** A point of another method; points sharing a name form one series (one legend entry, one HV). */
export interface BaselinePoint {
  readonly name: string;
  readonly rewards: readonly number[];
  readonly alpha?: readonly number[];
}

export interface ParetoReportOptions {
  /** One name per objective, in α order (e.g. ["harmlessness", "helpfulness"]). */
  readonly objectiveNames: readonly string[];
  /** Explicit z; excludes `rule`. */
  readonly referencePoint?: readonly number[];
  /** How to derive z; excludes `referencePoint`. */
  readonly rule?: ReportReferenceRule;
  readonly baselines?: readonly BaselinePoint[];
}

export interface ReportPoint {
  readonly index: number;
  readonly alpha: number[];
  readonly rewards: number[];
  /** α formatted for display, e.g. "(0.3, 0.7)". */
  readonly label: string;
  readonly onFront: boolean;
  /** αᵀ r̄(α), the term this point adds to MIP. */
  readonly innerProduct: number;
}

export interface ReportBaselinePoint {
  readonly rewards: number[];
  readonly alpha?: number[];
  readonly label: string;
  /** True when some sweep point on the front dominates it. */
  readonly dominatedByFront: boolean;
}

export interface ReportBaselineSeries {
  readonly name: string;
  readonly points: ReportBaselinePoint[];
  /** HV of this series alone, under the report's z. */
  readonly hypervolume: number;
}

export interface ParetoReport {
  readonly kind: "parm.pareto-report";
  readonly version: 1;
  readonly objectiveNames: string[];
  readonly points: ReportPoint[];
  /** Indices into `points` of the non-dominated points (every copy of a duplicate), in input order. */
  readonly front: number[];
  readonly hypervolume: number;
  readonly mip: number;
  /** How rewards were normalised before HV and MIP (always "none": raw mean rewards). */
  readonly normalization: "none";
  readonly referencePoint: number[];
  readonly rule: ReportReferenceRule;
  readonly baselines: ReportBaselineSeries[];
}

/** Builds the report; throws {@link ParetoInputError} naming the bad entry for any malformed input. */
export function buildParetoReport(points: readonly AlphaRewards[], options: ParetoReportOptions): ParetoReport {
  if (!Array.isArray(points) || points.length === 0) {
    throw new ParetoInputError("EMPTY_INPUT", "a Pareto report needs at least one (alpha, rewards) point");
  }
  const names = checkObjectiveNames(options.objectiveNames);
  const k = names.length;
  checkVectors(
    points.map((p) => p.rewards),
    "points.rewards",
    k,
  );
  const seenAlpha = new Map<string, number>();
  points.forEach((p, i) => {
    checkSimplexVector(p.alpha, k, `points[${i}].alpha`);
    const key = p.alpha.join(",");
    const previous = seenAlpha.get(key);
    if (previous !== undefined) {
      throw new ParetoInputError("DUPLICATE_ALPHA", `points[${i}].alpha repeats points[${previous}].alpha (${key})`);
    }
    seenAlpha.set(key, i);
  });
  const baselines = options.baselines ?? [];
  baselines.forEach((b, i) => {
    if (typeof b.name !== "string" || b.name.trim() === "") {
      throw new ParetoInputError("INVALID_OBJECTIVE_NAMES", `baselines[${i}].name must be a non-empty string`);
    }
    checkVectors([b.rewards], `baselines[${i}].rewards`, k);
    if (b.alpha !== undefined) checkSimplexVector(b.alpha, k, `baselines[${i}].alpha`);
  });

  const rule = chooseRule(options);
  const z = resolveReferencePoint(points, baselines, rule, k);
  const rewardVectors = points.map((p) => p.rewards);
  const front = paretoFrontIndices(rewardVectors);
  const onFront = new Set(front);
  const frontPoints = front.map((i) => rewardVectors[i]);

  const series = new Map<string, BaselinePoint[]>();
  for (const b of baselines) {
    const list = series.get(b.name) ?? [];
    list.push(b);
    series.set(b.name, list);
  }

  return {
    kind: "parm.pareto-report",
    version: 1,
    objectiveNames: names,
    points: points.map((p, index) => ({
      index,
      alpha: [...p.alpha],
      rewards: [...p.rewards],
      label: formatAlpha(p.alpha),
      onFront: onFront.has(index),
      innerProduct: innerProduct(p.alpha, p.rewards),
    })),
    front,
    hypervolume: hypervolume(frontPoints, z),
    mip: meanInnerProduct(points),
    normalization: "none",
    referencePoint: z,
    rule: cloneReportRule(rule),
    baselines: [...series].map(([name, list]) => ({
      name,
      points: list.map((b) => ({
        rewards: [...b.rewards],
        ...(b.alpha !== undefined ? { alpha: [...b.alpha] } : {}),
        label: b.alpha !== undefined ? `${name} ${formatAlpha(b.alpha)}` : name,
        dominatedByFront: frontPoints.some((f) => dominates(f, b.rewards)),
      })),
      hypervolume: hypervolume(
        list.map((b) => b.rewards),
        z,
      ),
    })),
  };
}

/** "(0.3, 0.7)": each weight with at most 6 decimals, trailing zeros dropped. */
export function formatAlpha(alpha: readonly number[]): string {
  return `(${alpha.map((a) => String(Number(a.toFixed(6)))).join(", ")})`;
}

function checkObjectiveNames(names: readonly string[] | undefined): string[] {
  if (!Array.isArray(names) || names.length === 0) {
    throw new ParetoInputError("INVALID_OBJECTIVE_NAMES", "objectiveNames must be a non-empty array of strings");
  }
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (typeof name !== "string" || name.trim() === "") {
      throw new ParetoInputError("INVALID_OBJECTIVE_NAMES", `objectiveNames[${i}] must be a non-empty string`);
    }
    if (seen.has(name)) throw new ParetoInputError("INVALID_OBJECTIVE_NAMES", `objectiveNames[${i}] repeats "${name}"`);
    seen.add(name);
  });
  return [...names];
}

function chooseRule(options: ParetoReportOptions): ReportReferenceRule {
  if (options.referencePoint !== undefined && options.rule !== undefined) {
    throw new ParetoInputError("INVALID_REFERENCE_RULE", "give either referencePoint or rule, not both");
  }
  if (options.referencePoint !== undefined) return { rule: "explicit", point: [...options.referencePoint] };
  return options.rule ?? DEFAULT_REFERENCE_RULE;
}

function resolveReferencePoint(
  points: readonly AlphaRewards[],
  baselines: readonly BaselinePoint[],
  rule: ReportReferenceRule,
  k: number,
): number[] {
  if (rule === null || typeof rule !== "object") {
    throw new ParetoInputError("INVALID_REFERENCE_RULE", `rule must be an object, got ${String(rule)}`);
  }
  switch (rule.rule) {
    case "explicit": {
      const z = referencePoint([], rule);
      if (z.length !== k) {
        throw new ParetoInputError("DIMENSION_MISMATCH", `referencePoint has ${z.length} objectives, expected ${k}`);
      }
      return z;
    }
    case "min-minus-margin":
      return referencePoint([...points.map((p) => p.rewards), ...baselines.map((b) => b.rewards)], rule);
    case "baseline": {
      const matches = baselines.filter((b) => b.name === rule.name);
      if (matches.length !== 1) {
        throw new ParetoInputError(
          "INVALID_REFERENCE_RULE",
          `rule "baseline" needs exactly one baseline point named "${rule.name}", found ${matches.length}`,
        );
      }
      return [...matches[0].rewards];
    }
    default:
      return referencePoint([], rule);
  }
}

function cloneReportRule(rule: ReportReferenceRule): ReportReferenceRule {
  switch (rule.rule) {
    case "explicit":
      return { rule: "explicit", point: [...rule.point] };
    case "min-minus-margin":
      return { rule: "min-minus-margin", margin: rule.margin };
    case "baseline":
      return { rule: "baseline", name: rule.name };
    default:
      throw new UnreachableCaseError(rule);
  }
}
