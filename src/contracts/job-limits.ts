/**
 * @module contracts/job-limits — how much work one job may ask for: one name, default and bound each, and the
 * work measures both sides compute the same way.
 *
 * The api refuses a job over a limit at submit time (`LimitExceeded`, naming the limit, the allowed and the requested
 * amount); each limit comes from its environment variable (docs/configuration.md), a value outside `[min, max]`
 * failing start-up. Runners never see a job over a limit, so they need not re-check; they do bound what they
 * allocate by the same measures.
 */

export interface JobLimits {
  /** Most α points of one evaluation's simplex grid. */
  readonly maxGridPoints: number;
  /** Most generated tokens one evaluation may ask for: grid points × prompts × maxTokens. */
  readonly maxEvaluationTokens: number;
  /** Most generated tokens one generation may ask for: preference vectors × maxTokens. */
  readonly maxGenerationTokens: number;
  /** Most pair passes one training job may ask for: training pairs used × epochs (maxPairs / maxSteps lower it). */
  readonly maxTrainingPairPasses: number;
}

export interface JobLimitSpec {
  /** The api's environment variable. */
  readonly env: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** Each limit's variable, default and bounds (integers). */
export const JOB_LIMITS: Readonly<Record<keyof JobLimits, JobLimitSpec>> = {
  maxGridPoints: { env: "PARM_MAX_GRID_POINTS", default: 256, min: 1, max: 1_000_000 },
  maxEvaluationTokens: { env: "PARM_MAX_EVALUATION_TOKENS", default: 4_000_000, min: 1, max: 1e12 },
  maxGenerationTokens: { env: "PARM_MAX_GENERATION_TOKENS", default: 262_144, min: 1, max: 1e12 },
  maxTrainingPairPasses: { env: "PARM_MAX_TRAINING_PAIR_PASSES", default: 2_000_000, min: 1, max: 1e12 },
};

export const DEFAULT_JOB_LIMITS: JobLimits = {
  maxGridPoints: JOB_LIMITS.maxGridPoints.default,
  maxEvaluationTokens: JOB_LIMITS.maxEvaluationTokens.default,
  maxGenerationTokens: JOB_LIMITS.maxGenerationTokens.default,
  maxTrainingPairPasses: JOB_LIMITS.maxTrainingPairPasses.default,
};

/**
 * Points of the simplex grid with spacing 1/`steps` in `dimensions` coordinates: C(steps + k − 1, k − 1).
 * Computed in floating point and exact while it stays below 2^53; callers compare it against a limit, so an
 * overflow to Infinity still reads as "too many".
 */
export function simplexGridPointCount(steps: number, dimensions: number): number {
  let count = 1;
  for (let i = 1; i < dimensions; i++) count = (count * (steps + i)) / i;
  return Math.round(count);
}

/**
 * Pair passes of a training job: the pairs of each training phase (a dataset's TRAIN pairs, capped by maxPairs)
 * summed, × epochs, capped by maxSteps × pairs per update (batchSize × gradAccum).
 */
export function trainingPairPasses(options: {
  pairsPerPhase: readonly number[];
  epochs: number;
  maxPairs: number | null;
  maxSteps: number | null;
  pairsPerUpdate: number;
}): number {
  const pairs = options.pairsPerPhase.reduce((sum, n) => sum + (options.maxPairs === null ? n : Math.min(n, options.maxPairs)), 0);
  const passes = pairs * options.epochs;
  return options.maxSteps === null ? passes : Math.min(passes, options.maxSteps * options.pairsPerUpdate);
}

/**
 * The limits that bound one tenant's jobs: the server's, with the tenant's own values (set by the platform admin,
 * stored as a partial object) in place of those it names. Values outside a limit's `[min, max]` or not integers
 * are ignored, so a stored override can never loosen a bound the contract sets.
 */
export function tenantJobLimits(server: JobLimits, override: unknown): JobLimits {
  const own = (override ?? {}) as Partial<Record<keyof JobLimits, unknown>>;
  const merged = { ...server };
  for (const key of Object.keys(JOB_LIMITS) as (keyof JobLimits)[]) {
    const value = own[key];
    const spec = JOB_LIMITS[key];
    if (typeof value === "number" && Number.isInteger(value) && value >= spec.min && value <= spec.max) merged[key] = value;
  }
  return merged;
}
